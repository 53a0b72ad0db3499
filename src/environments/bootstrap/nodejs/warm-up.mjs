// Loaded by a pre-warmed runtime while it waits for its function (handler-loader.mjs warmUpLoaders): the first file
// imported dynamically costs about half a millisecond more than the next, and the handler is that next one.
export {};
