/** The Lambda function domain, camelCase inside; AWS spellings live only in src/api/wire/. */

export type Architecture = 'x86_64' | 'arm64';
export type FunctionState = 'Pending' | 'Active' | 'Inactive' | 'Failed';
export type LastUpdateStatus = 'Successful' | 'Failed' | 'InProgress';
export const LATEST = '$LATEST';

/** A deployment package, content-addressed. */
export interface CodeRef {
  /** Lowercase hex SHA-256 of the zip bytes (CodeSha256 on the wire is its base64). */
  sha256Hex: string;
  sizeBytes: number;
  unzippedBytes: number;
}

export interface LayerReference {
  /** A layer *version* ARN. */
  arn: string;
  codeSizeBytes: number;
  codeSha256Hex: string;
  unzippedBytes: number;
}

export interface LoggingConfig {
  logFormat: 'Text' | 'JSON';
  applicationLogLevel?: string;
  systemLogLevel?: string;
  logGroup: string;
}

export interface VpcSettings {
  subnetIds: string[];
  securityGroupIds: string[];
  ipv6AllowedForDualStack: boolean;
}

/** Everything Update{FunctionConfiguration} can change, snapshotted into each published version. */
export interface FunctionSettings {
  runtime: string;
  handler: string;
  role: string;
  description: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  /** undefined when never set; {} when set empty (AWS answers differently for the two). */
  environment?: Record<string, string>;
  layers: LayerReference[];
  architectures: Architecture[];
  ephemeralStorageMb: number;
  tracingMode: 'Active' | 'PassThrough';
  deadLetterTargetArn?: string;
  kmsKeyArn?: string;
  loggingConfig: LoggingConfig;
  vpcConfig?: VpcSettings;
  snapStartApplyOn: 'PublishedVersions' | 'None';
}

/** `$LATEST` or one published version of a function. */
export interface FunctionVersion {
  accountId: string;
  functionName: string;
  /** '$LATEST' or a decimal number as a string. */
  version: string;
  settings: FunctionSettings;
  code: CodeRef;
  revisionId: string;
  lastModifiedMs: number;
  state: FunctionState;
  stateReason?: string;
  stateReasonCode?: string;
  lastUpdateStatus?: LastUpdateStatus;
  lastUpdateStatusReason?: string;
  lastUpdateStatusReasonCode?: string;
  /** For a published version: the RevisionId of the $LATEST it was published from (PublishVersion idempotence). */
  sourceRevisionId?: string;
}

/** Function-level data shared by all versions. */
export interface FunctionRecord {
  accountId: string;
  functionName: string;
  createdMs: number;
  /** Highest version number ever published; numbers are never reused. */
  lastVersionNumber: number;
  reservedConcurrency?: number;
  tags: Record<string, string>;
}

export interface Alias {
  accountId: string;
  functionName: string;
  name: string;
  functionVersion: string;
  description: string;
  /** RoutingConfig.AdditionalVersionWeights: version → weight in [0, 1]. */
  additionalVersionWeights?: Record<string, number>;
  revisionId: string;
}

/** One statement of a resource policy, already rendered in IAM's JSON form. */
export type PolicyStatement = Record<string, unknown> & { Sid: string };

/** The resource policy of a function, or of one of its versions or aliases. */
export interface ResourcePolicy {
  accountId: string;
  functionName: string;
  /** '' for the unqualified function. */
  qualifier: string;
  statements: PolicyStatement[];
  revisionId: string;
}

export interface LayerVersion {
  accountId: string;
  layerName: string;
  version: number;
  description: string;
  compatibleRuntimes: string[];
  compatibleArchitectures: Architecture[];
  licenseInfo?: string;
  code: CodeRef;
  createdMs: number;
}
