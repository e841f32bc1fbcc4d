import { Type, type TProperties } from 'typebox';

/** The body of every error answer (`EtaError.toBody`), with the extra fields a route documents (`opens_at`). */
export const errorBodyOf = <T extends TProperties>(extra: T) =>
  Type.Object({
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      field: Type.Optional(Type.String()),
      ...extra,
    }),
  });

export const ErrorBody = errorBodyOf({});
