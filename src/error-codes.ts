import { CallbackErrorCode } from './callbacks/callbacks.exceptions';
import { CommonErrorCode } from './common/api-error';
import { OrderErrorCode } from './orders/orders.exceptions';
import { ReportErrorCode } from './reports/store/report-errors';

/**
 * Every `error_code` the service answers with, from each module's own list: the README's table of
 * codes is this list (test/operations/docs.e2e-spec.ts). A 4xx the framework raises and no table
 * names would be `HTTP_<status>`.
 */
export const ERROR_CODES: readonly string[] = [
  ...Object.values(CommonErrorCode),
  ...Object.values(OrderErrorCode),
  ...Object.values(ReportErrorCode),
  ...Object.values(CallbackErrorCode),
];
