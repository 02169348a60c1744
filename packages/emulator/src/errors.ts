/** ARM error envelope: `{ error: { code, message, target?, details? } }`. */
export interface ArmErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: ArmErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: { code: string; message: string; target?: string; details?: ArmErrorDetail[] } } {
    const error: { code: string; message: string; target?: string; details?: ArmErrorDetail[] } = {
      code: this.code,
      message: this.message,
    };
    if (this.target) error.target = this.target;
    if (this.details) error.details = this.details;
    return { error };
  }
}

export const badRequest = (code: string, message: string, target?: string) =>
  new ArmError(400, code, message, target);
export const conflict = (code: string, message: string, target?: string) =>
  new ArmError(409, code, message, target);
export const notFound = (code: string, message: string) => new ArmError(404, code, message);
