/**
 * The longest customer name an order may carry (characters, as JSON counts them). Each one prints
 * in a report's row: this bounds what one row, and so one report, costs to build and print.
 */
export const CUSTOMER_NAME_MAX_LENGTH = 200;
