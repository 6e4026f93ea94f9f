import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { CallbackSummary } from '../../callbacks/callbacks.service';

export enum ReportStatus {
  Pending = 'PENDING',
  InProgress = 'IN_PROGRESS',
  Completed = 'COMPLETED',
  Failed = 'FAILED',
  Expired = 'EXPIRED',
}

/** A report in one of these will not change again but by expiring (or being deleted). */
export const FINISHED_STATUSES = [
  ReportStatus.Completed,
  ReportStatus.Failed,
  ReportStatus.Expired,
];

/** The job: everything status polling reads, without the PDF bytes. */
@Entity('reports')
export class Report {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'client_id', type: 'uuid' }) clientId: string;
  /** Inclusive first day, YYYY-MM-DD, in `timeZone`. */
  @Column({ name: 'start_date', type: 'date' }) startDate: string;
  /** Exclusive last day, YYYY-MM-DD. */
  @Column({ name: 'end_date', type: 'date' }) endDate: string;
  /** The IANA zone whose local midnights bound the period, and in which its times print. */
  @Column({ name: 'time_zone', type: 'text', default: 'UTC' }) timeZone: string;
  @Column({ type: 'text', default: ReportStatus.Pending }) status: ReportStatus;
  @Column({ type: 'smallint', default: 0 }) progress: number;
  @Column({ name: 'error_code', type: 'text', nullable: true }) errorCode: string | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage: string | null;
  @Column({ name: 'callback_url', type: 'text', nullable: true }) callbackUrl: string | null;
  @Column({ name: 'idempotency_key', type: 'text', nullable: true }) idempotencyKey: string | null;
  /** SHA-256 of the request body that created the report, to tell a replay from a key reused. */
  @Column({ name: 'request_hash', type: 'char', length: 64, nullable: true })
  requestHash: string | null;
  @Column({ name: 'order_count', type: 'integer', nullable: true }) orderCount: number | null;
  @Column({ name: 'pdf_size', type: 'integer', nullable: true }) pdfSize: number | null;
  /** The PDF's SHA-256 in base64url, quoted: its ETag, and its digest (pdf.sha256, Repr-Digest). */
  @Column({ name: 'pdf_etag', type: 'text', nullable: true }) pdfEtag: string | null;
  /** Null for a report completed before pages were counted (migrations/*-PdfPages.ts). */
  @Column({ name: 'pdf_pages', type: 'integer', nullable: true }) pdfPages: number | null;
  /** The claim (render_attempts) whose chunks are the PDF. */
  @Column({ name: 'pdf_attempt', type: 'integer', nullable: true }) pdfAttempt: number | null;
  @Column({ name: 'render_ms', type: 'integer', nullable: true }) renderMs: number | null;
  /** Its turn in the render queue, and its Bull priority (migrations/*-FairQueue.ts). */
  @Column({ name: 'fair_round', type: 'integer', default: 1 }) fairRound: number;
  /** Times a worker claimed it (common/jobs.ts: maxRenderClaims). */
  @Column({ name: 'render_attempts', type: 'integer', default: 0 }) renderAttempts: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt: Date | null;
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' }) updatedAt: Date;
}

/**
 * The PDF, in Postgres so that any API process on any machine can serve any report, in chunks of
 * about 1 MiB written as it is joined (PdfJoin): no process holds a long report's PDF whole.
 */
@Entity('report_file_chunks')
export class ReportFileChunk {
  @PrimaryColumn({ name: 'report_id', type: 'uuid' }) reportId: string;
  /** The claim of the report that wrote it (render_attempts then). */
  @PrimaryColumn({ type: 'integer' }) attempt: number;
  @PrimaryColumn({ type: 'integer' }) seq: number;
  @Column({ type: 'bytea' }) data: Buffer;
}

/** A report as a client's request reads it, with its callback's state. */
export type ReadReport = Report & { callback: CallbackSummary | null };

/** A status read: while unfinished, its place in the fair order and when it is likely done. */
export interface ReportStatusRead {
  report: ReadReport;
  place?: number | null;
  estimate?: {
    /** Whole seconds, 1 to 60. */
    retryAfter: number;
    completionAt: Date;
  };
  /** Prefer: wait honoured, for this many seconds. */
  waited?: number;
}

/** A report's unfinished state as Postgres holds it, for the fair queue kept in Redis. */
/** What admitting a new report depends on, read under the client's admission lock. */
export interface Admission {
  /** The report this Idempotency-Key already answers, if any. */
  existing?: ReadReport;
  /** The client's reports PENDING or IN_PROGRESS, counted up to the bound. */
  unfinished: number;
  /** Reports waiting for a render, all clients, counted up to the bound. */
  backlog: number;
  /** Reports that render before the client's next one (0 when one of its reports is rendering). */
  clientAhead: number;
}

export type NewReport = Pick<
  Report,
  'startDate' | 'endDate' | 'timeZone' | 'callbackUrl' | 'idempotencyKey' | 'requestHash'
>;

/** A report as a claim returns it: what rendering it needs. */
export type ClaimedReport = Pick<
  Report,
  'id' | 'clientId' | 'startDate' | 'endDate' | 'timeZone' | 'callbackUrl' | 'renderAttempts'
>;

/** How a report ends: COMPLETED with its PDF, or FAILED with why. */
export type FinalState =
  | {
      status: ReportStatus.Completed;
      orderCount: number;
      pdfSize: number;
      pdfPages: number;
      pdfEtag: string;
      /** The claim whose chunks are the PDF. */
      pdfAttempt: number;
      renderMs: number;
    }
  | { status: ReportStatus.Failed; errorCode: string; errorMessage: string };
