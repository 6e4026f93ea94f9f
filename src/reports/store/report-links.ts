/** The report routes' paths, relative as the contract's Location headers are. */
export const statusPath = (id: string) => `/v1/orders/reports/status/${id}`;
export const reportPath = (id: string) => `/v1/orders/reports/${id}`;
export const pdfFilename = (startDate: string, endDate: string) =>
  `orders-report-${startDate}-${endDate}.pdf`;
