// Resolves _HANDLER (`dir/sub/module.fn.nested`) to a function, in the order Lambda's Node runtime tries
// (LAMBDA_REFERENCE §3.4), and turns load failures into its Runtime.* errors.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HandlerNotFound, ImportModuleError, MalformedHandlerName, UserCodeSyntaxError, wrapLoadError } from './errors.mjs';

const require = createRequire(import.meta.url);

/**
 * Loads the handler's module under taskRoot and returns the handler function. Throws Runtime.MalformedHandlerName,
 * Runtime.ImportModuleError, Runtime.UserCodeSyntaxError, Runtime.HandlerNotFound, or whatever the module's own code
 * threw while loading (reported as is, like Lambda).
 */
export async function loadHandler(taskRoot, handler) {
  if (typeof handler !== 'string' || handler.includes('..')) throw new MalformedHandlerName('Bad handler');
  const slash = handler.lastIndexOf('/');
  const moduleRoot = handler.slice(0, slash + 1);
  const name = handler.slice(slash + 1);
  const dot = name.indexOf('.');
  // An empty module name would load the task root directory itself (its index.js): refused as malformed.
  if (dot <= 0) throw new MalformedHandlerName('Bad handler');

  const loaded = await loadModule(taskRoot, moduleRoot, name.slice(0, dot));
  let fn = loaded;
  for (const key of name.slice(dot + 1).split('.')) fn = fn ? fn[key] : fn;
  if (!fn) throw new HandlerNotFound(`${handler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${handler} is not a function`);
  return fn;
}

/**
 * Pre-warmed runtimes, while they wait: loads a file through each loader the handler may take (import() and
 * require()), so their one-time costs are paid before a function is bound rather than in its Init Duration.
 */
export async function warmUpLoaders() {
  await importFile(new URL('./warm-up.mjs', import.meta.url).pathname);
  requireFile(new URL('./warm-up.cjs', import.meta.url).pathname);
}

async function loadModule(taskRoot, moduleRoot, moduleName) {
  try {
    return await tryLoad(taskRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) throw wrapLoadError(UserCodeSyntaxError, error);
    if (error?.code === 'MODULE_NOT_FOUND' || error?.code === 'ERR_MODULE_NOT_FOUND') throw wrapLoadError(ImportModuleError, error);
    throw error;
  }
}

async function tryLoad(taskRoot, moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  if (existsSync(base)) return requireFile(base);
  const typeModule = nearestPackageIsModule(path.dirname(base));
  if (!typeModule && existsSync(`${base}.js`)) return requireFile(`${base}.js`);
  if (typeModule && existsSync(`${base}.js`)) return importFile(`${base}.js`);
  if (existsSync(`${base}.mjs`)) return importFile(`${base}.mjs`);
  if (existsSync(`${base}.cjs`)) return requireFile(`${base}.cjs`);
  // Node-style resolution last: packages in node_modules, and NODE_PATH (layers under /opt/nodejs).
  return requireFile(require.resolve(moduleName, { paths: [taskRoot, path.resolve(taskRoot, moduleRoot)] }));
}

function requireFile(file) {
  try {
    return require(file);
  } catch (error) {
    // Node 20's require() of ES modules stops at top-level await (and older builds at any ESM): import() instead.
    if (error?.code === 'ERR_REQUIRE_ASYNC_MODULE' || error?.code === 'ERR_REQUIRE_ESM') return importFile(file);
    throw error;
  }
}

function importFile(file) {
  return import(pathToFileURL(file).href);
}

/** Whether the package.json nearest to dir (not crossing into node_modules) says "type": "module". */
function nearestPackageIsModule(dir) {
  for (let current = dir; ; current = path.dirname(current)) {
    if (path.basename(current) === 'node_modules') return false;
    const file = path.join(current, 'package.json');
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8'))?.type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(current) === current) return false;
  }
}
