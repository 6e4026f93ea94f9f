import { ApiError } from '../common/api-error';

export enum OrderErrorCode {
  OrderNotFound = 'ORDER_NOT_FOUND',
  OrderNumberTaken = 'ORDER_NUMBER_TAKEN',
}

export const orderNotFound = () => new ApiError(404, OrderErrorCode.OrderNotFound, 'No such order');

export const orderNumberTaken = (number: string) =>
  new ApiError(409, OrderErrorCode.OrderNumberTaken, `Order number ${number} is already taken`);
