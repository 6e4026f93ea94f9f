/** Every queue in one place, with the data each job carries: ids, never documents. */
export enum QueueName {
  ReportRender = 'report-render',
  CallbackDelivery = 'callback-delivery',
}

export interface JobData {
  [QueueName.ReportRender]: { reportId: string };
  /** One job per attempt: `attempt` is 1-based and the job id is `${eventId}:${attempt}`. */
  [QueueName.CallbackDelivery]: { eventId: string; attempt: number };
}
