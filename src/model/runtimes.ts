/**
 * The runtimes Kindling serves, in one table. The execution-environments issue adds how each is started;
 * here a row only says that the id is accepted. Ids AWS has retired are refused as AWS refuses them.
 */
export interface RuntimeRow {
  id: string;
  family: 'nodejs' | 'python' | 'provided';
}

export const RUNTIMES: readonly RuntimeRow[] = [
  { id: 'nodejs20.x', family: 'nodejs' },
  { id: 'python3.11', family: 'python' },
  { id: 'provided.al2023', family: 'provided' },
  { id: 'provided.al2', family: 'provided' },
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
