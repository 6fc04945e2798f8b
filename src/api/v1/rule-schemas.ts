import { Type } from 'typebox';
import { FIELD_PATH_PATTERN } from '../../domain/rules/paths.ts';
import { DURATION_PATTERN } from '../../domain/shared/duration.ts';
import { Timestamp } from '../../http/schemas.ts';

const Duration = (description: string) => Type.String({ pattern: DURATION_PATTERN, description });
const FieldPath = Type.String({
  pattern: FIELD_PATH_PATTERN,
  description: 'A dotted event path: `ip`, `actor.id`, `target.id`, `data.keyId`.',
});
const EventPattern = Type.String({
  pattern: '^(\\*|[a-z0-9_]+(\\.[a-z0-9_]+)*(\\.\\*)?)$',
  description: 'An event type, `prefix.*` or `*`.',
});
const Target = Type.Optional(
  Type.String({
    pattern: FIELD_PATH_PATTERN,
    description: 'Event path holding the target; defaults per action.',
  }),
);

export const RuleAction = Type.Union(
  [
    Type.Object(
      {
        type: Type.Literal('alert'),
        channels: Type.Array(Type.String({ maxLength: 64 }), {
          maxItems: 20,
          description: 'Channel ids; `*` or empty: every enabled channel.',
        }),
        throttle: Type.Optional(
          Duration(
            'At most one alert per rule, group and channel this often (default 5m); repeats are summarised.',
          ),
        ),
        message: Type.Optional(
          Type.String({
            maxLength: 2000,
            description:
              'Template with `{{rule.name}}`, `{{count}}`, `{{ip}}`, `{{group.<field>}}`, `{{event.<path>}}`, `{{actions}}`.',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object({ type: Type.Literal('revoke_api_key'), target: Target }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('disable_user'), target: Target }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('lock_user'),
        duration: Duration('How long the user stays locked.'),
        target: Target,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { type: Type.Literal('terminate_sessions'), target: Target },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('block_ip'),
        duration: Duration('How long the address is refused.'),
        target: Target,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('webhook'),
        url: Type.String({ format: 'uri', maxLength: 2000 }),
        secret: Type.Optional(Type.String({ maxLength: 200 })),
      },
      { additionalProperties: false },
    ),
    Type.Object({ type: Type.Literal('emit') }, { additionalProperties: false }),
  ],
  { description: 'Enforcing actions (revoke, disable, lock, terminate, block) run only in enforce mode.' },
);

const Threshold = Type.Object(
  {
    count: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    window: Duration('Sliding window (or bucket size with `baseline`).'),
    groupBy: Type.Optional(Type.Array(FieldPath, { maxItems: 5 })),
    distinct: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'Count distinct values of this path (alternatives with `|`).',
      }),
    ),
    baseline: Type.Optional(
      Type.Object(
        {
          factor: Type.Number({ minimum: 1, maximum: 1000 }),
          history: Duration('History the average is taken over.'),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const NewValue = Type.Object(
  {
    field: FieldPath,
    groupBy: Type.Array(FieldPath, { maxItems: 3 }),
    lookback: Duration('How far back a value counts as seen.'),
  },
  { additionalProperties: false },
);

const Check = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('key-never-used'),
      Type.Literal('key-unused'),
      Type.Literal('key-rotation'),
    ]),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    maxAge: Type.Optional(Type.Record(Type.String(), Type.String({ pattern: DURATION_PATTERN }))),
  },
  { additionalProperties: false },
);

export const ruleFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  enabled: Type.Boolean(),
  mode: Type.Union([Type.Literal('enforce'), Type.Literal('monitor')], {
    description: '`monitor` records and alerts but takes no action.',
  }),
  severity: Type.Union([
    Type.Literal('info'),
    Type.Literal('warning'),
    Type.Literal('error'),
    Type.Literal('critical'),
  ]),
  on: Type.Array(EventPattern, { maxItems: 50 }),
  condition: Type.Union([
    Type.String({ maxLength: 4000, description: 'CEL expression over the event (see docs/rules.md).' }),
    Type.Null(),
  ]),
  threshold: Type.Union([Threshold, Type.Null()]),
  newValue: Type.Union([NewValue, Type.Null()]),
  schedule: Type.Union([
    Type.String({ maxLength: 100, description: 'Cron expression for a scheduled check.' }),
    Type.Null(),
  ]),
  check: Type.Union([Check, Type.Null()]),
  cooldown: Type.Union([Duration('Quiet time per group after a firing.'), Type.Null()]),
  maxActionsPerHour: Type.Integer({ minimum: 0, maximum: 10_000 }),
  actions: Type.Array(RuleAction, { maxItems: 20 }),
};

export const Rule = Type.Object(
  {
    id: Type.String(),
    organizationId: Type.String(),
    version: Type.Integer(),
    template: Type.Union([Type.String(), Type.Null()]),
    ...ruleFields,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Rule', title: 'Rule' },
);

const optional = Object.fromEntries(Object.entries(ruleFields).map(([k, v]) => [k, Type.Optional(v)])) as {
  [K in keyof typeof ruleFields]: ReturnType<typeof Type.Optional<(typeof ruleFields)[K]>>;
};

export const RuleCreate = Type.Object(
  { ...optional, name: ruleFields.name },
  { additionalProperties: false },
);
export const RulePatch = Type.Object(optional, { additionalProperties: false });
