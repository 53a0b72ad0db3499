/**
 * Request shapes as JSON Schema (typebox), checked by fastify before a handler runs. Model constraints from the
 * Lambda service model; a violation answers ValidationException (see validation-message.ts).
 */
import { Type, type Static } from 'typebox';

const S = (max?: number) => (max === undefined ? Type.String() : Type.String({ maxLength: max }));
const LogLevel = Type.Union(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].map((v) => Type.Literal(v)));
const SystemLogLevel = Type.Union(['DEBUG', 'INFO', 'WARN'].map((v) => Type.Literal(v)));
const Architectures = Type.Array(Type.Union([Type.Literal('x86_64'), Type.Literal('arm64')]), { minItems: 1, maxItems: 1 });
const StringMap = Type.Record(Type.String(), Type.String());

const SettingsMembers = {
  Role: Type.Optional(Type.String({ pattern: '^arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+$' })),
  Runtime: Type.Optional(S()),
  Handler: Type.Optional(Type.String({ maxLength: 128, pattern: '^[^\\s]+$' })),
  Description: Type.Optional(S(256)),
  Timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 900 })),
  MemorySize: Type.Optional(Type.Integer({ minimum: 128, maximum: 10240 })),
  Environment: Type.Optional(Type.Object({ Variables: Type.Optional(StringMap) })),
  Layers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 140 }))),
  EphemeralStorage: Type.Optional(Type.Object({ Size: Type.Integer({ minimum: 512, maximum: 10240 }) })),
  TracingConfig: Type.Optional(Type.Object({ Mode: Type.Optional(Type.Union([Type.Literal('Active'), Type.Literal('PassThrough')])) })),
  DeadLetterConfig: Type.Optional(Type.Object({ TargetArn: Type.Optional(S()) })),
  KMSKeyArn: Type.Optional(S()),
  LoggingConfig: Type.Optional(
    Type.Object({
      LogFormat: Type.Optional(Type.Union([Type.Literal('Text'), Type.Literal('JSON')])),
      ApplicationLogLevel: Type.Optional(LogLevel),
      SystemLogLevel: Type.Optional(SystemLogLevel),
      LogGroup: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    }),
  ),
  VpcConfig: Type.Optional(
    Type.Object({
      SubnetIds: Type.Optional(Type.Array(S(), { maxItems: 16 })),
      SecurityGroupIds: Type.Optional(Type.Array(S(), { maxItems: 5 })),
      Ipv6AllowedForDualStack: Type.Optional(Type.Boolean()),
    }),
  ),
  SnapStart: Type.Optional(Type.Object({ ApplyOn: Type.Optional(Type.Union([Type.Literal('PublishedVersions'), Type.Literal('None')])) })),
  ImageConfig: Type.Optional(Type.Object({})),
  FileSystemConfigs: Type.Optional(Type.Array(Type.Object({}), { maxItems: 1 })),
};

export const CreateFunctionBody = Type.Object({
  FunctionName: Type.String({ minLength: 1, maxLength: 140 }),
  Code: Type.Object({
    ZipFile: Type.Optional(S()),
    S3Bucket: Type.Optional(S()),
    S3Key: Type.Optional(S()),
    S3ObjectVersion: Type.Optional(S()),
    ImageUri: Type.Optional(S()),
    SourceKMSKeyArn: Type.Optional(S()),
  }),
  Publish: Type.Optional(Type.Boolean()),
  PackageType: Type.Optional(Type.Union([Type.Literal('Zip'), Type.Literal('Image')])),
  Architectures: Type.Optional(Architectures),
  Tags: Type.Optional(StringMap),
  CodeSigningConfigArn: Type.Optional(S()),
  ...SettingsMembers,
});
export type CreateFunctionBody = Static<typeof CreateFunctionBody>;

export const UpdateFunctionConfigurationBody = Type.Object({ RevisionId: Type.Optional(S()), ...SettingsMembers });
export type UpdateFunctionConfigurationBody = Static<typeof UpdateFunctionConfigurationBody>;

export const UpdateFunctionCodeBody = Type.Object({
  ZipFile: Type.Optional(S()),
  S3Bucket: Type.Optional(S()),
  S3Key: Type.Optional(S()),
  S3ObjectVersion: Type.Optional(S()),
  ImageUri: Type.Optional(S()),
  Publish: Type.Optional(Type.Boolean()),
  DryRun: Type.Optional(Type.Boolean()),
  RevisionId: Type.Optional(S()),
  Architectures: Type.Optional(Architectures),
  SourceKMSKeyArn: Type.Optional(S()),
});
export type UpdateFunctionCodeBody = Static<typeof UpdateFunctionCodeBody>;

export const PublishVersionBody = Type.Object({
  CodeSha256: Type.Optional(S()),
  Description: Type.Optional(S(256)),
  RevisionId: Type.Optional(S()),
});
export type PublishVersionBody = Static<typeof PublishVersionBody>;

const RoutingConfig = Type.Object({ AdditionalVersionWeights: Type.Optional(Type.Record(Type.String(), Type.Number())) });
const AliasName = Type.String({ minLength: 1, maxLength: 128, pattern: '^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$' });
const FunctionVersion = Type.String({ minLength: 1, maxLength: 1024, pattern: '^(\\$LATEST|[0-9]+)$' });

export const CreateAliasBody = Type.Object({
  Name: AliasName,
  FunctionVersion,
  Description: Type.Optional(S(256)),
  RoutingConfig: Type.Optional(RoutingConfig),
});
export type CreateAliasBody = Static<typeof CreateAliasBody>;

export const UpdateAliasBody = Type.Object({
  FunctionVersion: Type.Optional(FunctionVersion),
  Description: Type.Optional(S(256)),
  RoutingConfig: Type.Optional(RoutingConfig),
  RevisionId: Type.Optional(S()),
});
export type UpdateAliasBody = Static<typeof UpdateAliasBody>;

export const PublishLayerVersionBody = Type.Object({
  Content: Type.Object({
    ZipFile: Type.Optional(S()),
    S3Bucket: Type.Optional(S()),
    S3Key: Type.Optional(S()),
    S3ObjectVersion: Type.Optional(S()),
  }),
  Description: Type.Optional(S(256)),
  CompatibleRuntimes: Type.Optional(Type.Array(S(), { maxItems: 15 })),
  CompatibleArchitectures: Type.Optional(Type.Array(Type.Union([Type.Literal('x86_64'), Type.Literal('arm64')]), { maxItems: 2 })),
  LicenseInfo: Type.Optional(S(512)),
});
export type PublishLayerVersionBody = Static<typeof PublishLayerVersionBody>;

export const PutFunctionConcurrencyBody = Type.Object({ ReservedConcurrentExecutions: Type.Integer({ minimum: 0 }) });
export type PutFunctionConcurrencyBody = Static<typeof PutFunctionConcurrencyBody>;

export const TagResourceBody = Type.Object({ Tags: StringMap });
export type TagResourceBody = Static<typeof TagResourceBody>;

export const AddPermissionBody = Type.Object({
  StatementId: Type.String({ minLength: 1, maxLength: 100, pattern: '^([a-zA-Z0-9-_.]+)$' }),
  Action: Type.String({ pattern: '^(lambda:[*]|lambda:[a-zA-Z]+|[*])$' }),
  Principal: Type.String({ pattern: '^[^\\s]+$' }),
  SourceArn: Type.Optional(S()),
  SourceAccount: Type.Optional(Type.String({ pattern: '^\\d{12}$' })),
  EventSourceToken: Type.Optional(S(256)),
  RevisionId: Type.Optional(S()),
  PrincipalOrgID: Type.Optional(S(34)),
  FunctionUrlAuthType: Type.Optional(Type.Union([Type.Literal('NONE'), Type.Literal('AWS_IAM')])),
  InvokedViaFunctionUrl: Type.Optional(Type.Boolean()),
});
export type AddPermissionBody = Static<typeof AddPermissionBody>;

export const PageQuery = Type.Object({
  Marker: Type.Optional(S()),
  MaxItems: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
});

export const PutProvisionedConcurrencyConfigBody = Type.Object({ ProvisionedConcurrentExecutions: Type.Integer({ minimum: 1 }) });
export type PutProvisionedConcurrencyConfigBody = Static<typeof PutProvisionedConcurrencyConfigBody>;
