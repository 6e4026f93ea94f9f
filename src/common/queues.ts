/** Every queue in one place, with the data each job carries: ids, never documents. */
export enum QueueName {
  ReportRender = 'report-render',
}

export interface JobData {
  [QueueName.ReportRender]: { reportId: string };
}
