/**
 * The runtimes Kindling serves, in one table (ARCHITECTURE.md "Runtimes are rows of one table"). A row says how an
 * environment starts the runtime inside the sandbox; paths are the sandbox's (/var/runtime = our bootstraps,
 * /var/task = the code, /opt = the merged layers). Ids AWS has retired are refused as AWS refuses them.
 */
export interface RuntimeRow {
  id: string;
  family: 'nodejs' | 'python' | 'provided';
  /** AWS_EXECUTION_ENV (absent for custom runtimes, as on Lambda). */
  executionEnv?: string;
  /** Which of our bootstraps is mounted at /var/runtime (src/environments/bootstrap/<dir>). */
  bootstrapDir?: 'nodejs' | 'python';
  /** argv inside the sandbox; custom runtimes find their `bootstrap` in /var/task or /opt instead. */
  command?: readonly string[];
  /** Variables the runtime needs; the function's own variables may override them (they are not reserved). */
  environment: Readonly<Record<string, string>>;
  /** Whether V8 heap flags are derived from MemorySize (unless NODE_OPTIONS sets them). */
  heapFlags?: boolean;
  /** Shown in INIT_START lines. */
  runtimeVersion: string;
}

const PATH = '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin';
const LD_LIBRARY_PATH = '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib';

export const RUNTIMES: readonly RuntimeRow[] = [
  {
    id: 'nodejs20.x',
    family: 'nodejs',
    executionEnv: 'AWS_Lambda_nodejs20.x',
    bootstrapDir: 'nodejs',
    command: ['/usr/bin/node', '/var/runtime/index.mjs'],
    heapFlags: true,
    environment: {
      PATH,
      LD_LIBRARY_PATH,
      LANG: 'en_US.UTF-8',
      NODE_PATH: '/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task',
    },
    runtimeVersion: 'nodejs:20.kindling',
  },
  {
    id: 'python3.11',
    family: 'python',
    executionEnv: 'AWS_Lambda_python3.11',
    bootstrapDir: 'python',
    command: ['/usr/bin/python3.11', '-u', '/var/runtime/bootstrap.py'],
    environment: {
      PATH,
      LD_LIBRARY_PATH,
      LANG: 'en_US.UTF-8',
      PYTHONPATH: '/var/runtime:/opt/python/lib/python3.11/site-packages:/opt/python',
    },
    runtimeVersion: 'python:3.11.kindling',
  },
  { id: 'provided.al2023', family: 'provided', environment: { PATH, LD_LIBRARY_PATH, LANG: 'en_US.UTF-8' }, runtimeVersion: 'provided:al2023.kindling' },
  { id: 'provided.al2', family: 'provided', environment: { PATH, LD_LIBRARY_PATH, LANG: 'en_US.UTF-8' }, runtimeVersion: 'provided:al2.kindling' },
];

/** Runtime ids AWS no longer accepts for create or update (LAMBDA_REFERENCE §1.3). */
export const DEPRECATED_RUNTIMES: ReadonlySet<string> = new Set([
  'nodejs', 'nodejs4.3', 'nodejs4.3-edge', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x',
  'nodejs16.x', 'java8', 'python2.7', 'python3.6', 'python3.7', 'python3.8', 'dotnetcore1.0', 'dotnetcore2.0',
  'dotnetcore2.1', 'dotnetcore3.1', 'dotnet5.0', 'dotnet6', 'ruby2.5', 'ruby2.7', 'go1.x', 'provided',
]);

export function findRuntime(id: string): RuntimeRow | undefined {
  return RUNTIMES.find((row) => row.id === id);
}

/** Every Runtime enum value of the Lambda API model; an id outside it fails model validation. */
export const AWS_RUNTIME_IDS: ReadonlySet<string> = new Set([
  ...DEPRECATED_RUNTIMES,
  'nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x', 'java11', 'java17', 'java21', 'java25', 'java8.al2',
  'python3.9', 'python3.10', 'python3.11', 'python3.12', 'python3.13', 'python3.14', 'dotnet8', 'dotnet10',
  'ruby3.2', 'ruby3.3', 'ruby3.4', 'provided.al2', 'provided.al2023',
]);

/** Where a custom runtime's entry point may be, in Lambda's order of preference. */
export const CUSTOM_BOOTSTRAP_PATHS = ['/var/task/bootstrap', '/opt/bootstrap'] as const;
