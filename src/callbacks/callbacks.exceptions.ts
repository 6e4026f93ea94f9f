import { ApiError, CommonErrorCode } from '../common/api-error';

export enum CallbackErrorCode {
  CallbackUrlNotAllowed = 'CALLBACK_URL_NOT_ALLOWED',
  CallbackNotFound = 'CALLBACK_NOT_FOUND',
}

/** What is wrong with a callback_url: its form (a validation error), or where it leads. */
export interface CallbackUrlProblem {
  code: CommonErrorCode.ValidationFailed | CallbackErrorCode.CallbackUrlNotAllowed;
  message: string;
}

export const callbackUrlNotAllowed = (message: string) =>
  new ApiError(400, CallbackErrorCode.CallbackUrlNotAllowed, message);

export function callbackUrlRefused(problem: CallbackUrlProblem): ApiError {
  return problem.code === CommonErrorCode.ValidationFailed
    ? ApiError.invalidField('callback_url', problem.message)
    : callbackUrlNotAllowed(problem.message);
}

export const redeliveredTooSoon = (retryAfterSeconds: number) =>
  new ApiError(
    429,
    CommonErrorCode.RateLimited,
    `This callback was sent again less than a minute ago; retry after ${retryAfterSeconds} s`,
    { headers: { 'Retry-After': String(retryAfterSeconds) } },
  );

export const callbackNotFound = () =>
  new ApiError(
    404,
    CallbackErrorCode.CallbackNotFound,
    'This report has no callback to send: it has no callback_url, or it has not finished yet',
  );
