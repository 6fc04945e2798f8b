import { type Static, type TSchema, Type } from 'typebox';

/** RFC 9457 problem details, as every error answers. */
export const Problem = Type.Object(
  {
    type: Type.String({ format: 'uri' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    requestId: Type.String(),
    errors: Type.Optional(
      Type.Array(
        Type.Object({ location: Type.String(), message: Type.String() }, { additionalProperties: false }),
      ),
    ),
  },
  { $id: 'Problem', title: 'Problem', additionalProperties: false },
);
export type ProblemBody = Static<typeof Problem>;

export const ProblemRef = Type.Ref('Problem');

export const Limit = Type.Integer({
  minimum: 1,
  maximum: 200,
  default: 50,
  description: 'Page size (1–200).',
});
export const Cursor = Type.String({
  maxLength: 512,
  description: 'Opaque cursor from `nextCursor` of the previous page.',
});

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object(
    {
      data: Type.Array(item),
      nextCursor: Type.Union([Type.String(), Type.Null()], {
        description: 'Pass as `cursor` for the next page; null on the last page.',
      }),
    },
    { additionalProperties: false },
  );
}

export const IdParam = (prefix: string, description: string) =>
  Type.String({ pattern: `^${prefix}_[0-9a-z]{26}$`, description });

export const OrgParams = Type.Object(
  { org: IdParam('org', 'Organization id (`org_…`).') },
  { additionalProperties: false },
);

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const Metadata = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Free-form JSON object (at most 4 KiB when serialized).',
});
export const NoContent = Type.Null({ description: 'No content' });
