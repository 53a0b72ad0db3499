// Loaded by a pre-warmed runtime while it waits for its function (handler-loader.mjs warmUpLoaders): the first file
// that Node's CommonJS loader compiles costs about a millisecond more than the next, and the handler is that next one.
module.exports = {};
