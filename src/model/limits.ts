/** Lambda's documented quotas (LAMBDA_REFERENCE §6). Numbers are AWS's own. */
export const MAX_ZIPPED_CODE_BYTES = 52_428_800;
export const MAX_UNZIPPED_CODE_BYTES = 262_144_000;
/** Whole CreateFunction/UpdateFunctionCode/PublishLayerVersion request, base64 included. */
export const MAX_CODE_REQUEST_BYTES = 70_167_211;
export const MAX_SYNC_PAYLOAD_BYTES = 6_291_456;
/** Event invocations (raised from 256 KB to 1 MB in 2025); the legacy InvokeAsync API kept 256 KB. */
export const MAX_ASYNC_PAYLOAD_BYTES = 1_048_576;
export const MAX_INVOKE_ASYNC_PAYLOAD_BYTES = 262_144;
export const MAX_ENVIRONMENT_BYTES = 4096;
export const MAX_LAYERS_PER_FUNCTION = 5;
export const MAX_POLICY_BYTES = 20_480;
export const MIN_UNRESERVED_CONCURRENCY = 100;
export const TOTAL_CODE_SIZE_BYTES = 80_530_636_800;
/** Not an AWS quota: a bound on archive entries so a hostile zip cannot exhaust inodes or time. */
export const MAX_ZIP_ENTRIES = 20_000;
export const MEMORY_MIN_MB = 128;
export const MEMORY_MAX_MB = 10_240;
export const TIMEOUT_MAX_SECONDS = 900;
export const EPHEMERAL_MIN_MB = 512;
export const EPHEMERAL_MAX_MB = 10_240;
/** Code.Location links expire after ten minutes, as AWS's presigned S3 URLs do. */
export const CODE_LOCATION_TTL_MS = 10 * 60 * 1000;
