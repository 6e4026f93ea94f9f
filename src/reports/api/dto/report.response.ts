import { StreamableFile } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { CallbackAttempt, CallbackStatus } from '../../../callbacks/callback-event.entity';
import { HttpAnswer } from '../../../common/http-answer';
import {
  FinalState,
  FINISHED_STATUSES,
  Report,
  ReportStatus,
  ReportStatusRead,
} from '../../store/report.entity';
import { pdfFilename, reportPath, statusPath } from '../../store/report-links';

const statusLinks = (id: string) => [{ rel: 'status', href: statusPath(id) }];

/** What a COMPLETED report's row says of its PDF, all written when the PDF was. */
type PdfFacts = Pick<Report, 'pdfSize' | 'pdfPages' | 'pdfEtag'>;

/**
 * The PDF's SHA-256, computed as it was written (PdfJoin) and kept as its ETag, in base64url: never
 * computed again from the stored bytes.
 */
const pdfSha256 = ({ pdfEtag }: Pick<Report, 'pdfEtag'>): Buffer =>
  Buffer.from(pdfEtag!.slice(1, -1), 'base64url');

/**
 * The `pdf` of the callback and of the status route's 303: what a client checks its download against.
 * `pages` is null for a report completed before pages were counted (migrations/*-PdfPages.ts).
 */
export function pdfSummary(report: PdfFacts) {
  return {
    bytes: report.pdfSize,
    pages: report.pdfPages ?? null,
    sha256: pdfSha256(report).toString('hex'),
  };
}

/** RFC 9530's `Repr-Digest` of the PDF, for every answer that gives it (or a link to it). */
export const reprDigest = (report: Pick<Report, 'pdfEtag'>): string =>
  `sha-256=:${pdfSha256(report).toString('base64')}:`;

/** The 202 of POST /v1/orders/reports; `waited`: after Prefer: wait=N, honoured. */
export function acceptedAnswer(
  report: Report,
  retryAfter: number,
  replayed: boolean,
  waited?: number,
): HttpAnswer<object> {
  return {
    status: 202,
    headers: {
      ...(waited === undefined ? {} : { 'Preference-Applied': `wait=${waited}` }),
      Location: statusPath(report.id),
      'Retry-After': String(retryAfter),
      ...(replayed ? { 'Idempotent-Replayed': 'true' } : {}),
    },
    body: {
      id: report.id,
      status: report.status,
      time_zone: report.timeZone,
      links: statusLinks(report.id),
    },
  };
}

/**
 * The answer to POST /v1/orders/reports. Without a wait (`held` undefined), the 202. Held by
 * Prefer: wait, a report that finished meanwhile gets exactly the status route's answer (303 to the
 * PDF, or 200 FAILED or EXPIRED), one still unfinished the 202 as it stands now; both say
 * Preference-Applied.
 */
export function createdAnswer(
  { report, retryAfter, replayed }: { report: Report; retryAfter: number; replayed: boolean },
  held?: ReportStatusRead,
): HttpAnswer<object> {
  if (!held) return acceptedAnswer(report, retryAfter, replayed);
  if (!FINISHED_STATUSES.includes(held.report.status)) {
    return acceptedAnswer(held.report, held.estimate!.retryAfter, replayed, held.waited);
  }
  const finished = statusAnswer(held);
  if (replayed) finished.headers = { ...finished.headers, 'Idempotent-Replayed': 'true' };
  return finished;
}

/**
 * The status route's answer: 303 to the PDF once COMPLETED, otherwise 200 with the state (and
 * Retry-After while unfinished); with a callback_url, how its callback goes.
 */
export function statusAnswer({
  report,
  place,
  estimate,
  waited,
}: ReportStatusRead): HttpAnswer<object> {
  const headers: Record<string, string> =
    waited === undefined ? {} : { 'Preference-Applied': `wait=${waited}` };
  const answer = ((): HttpAnswer<object> => {
    switch (report.status) {
      case ReportStatus.Completed:
        return {
          status: 303,
          headers: { ...headers, Location: reportPath(report.id) },
          body: {
            id: report.id,
            status: report.status,
            time_zone: report.timeZone,
            // Only a row written by hand is COMPLETED without a PDF (the PDF route: not ready).
            ...(report.pdfEtag ? { pdf: pdfSummary(report) } : {}),
            links: [{ rel: 'reports', href: reportPath(report.id) }],
          },
        };
      case ReportStatus.Failed:
        return {
          status: 200,
          headers,
          body: {
            id: report.id,
            status: report.status,
            time_zone: report.timeZone,
            error: { error_code: report.errorCode, error_message: report.errorMessage },
          },
        };
      case ReportStatus.Expired:
        return {
          status: 200,
          headers,
          body: { id: report.id, status: report.status, time_zone: report.timeZone },
        };
      default:
        return {
          status: 200,
          headers: { ...headers, 'Retry-After': String(estimate!.retryAfter) },
          body: {
            id: report.id,
            status: report.status,
            time_zone: report.timeZone,
            progress: report.progress,
            created_at: report.createdAt.toISOString(),
            queue_position: place ?? null,
            estimated_completion_at: place === null ? null : estimate!.completionAt.toISOString(),
          },
        };
    }
  })();
  if (report.callbackUrl) {
    answer.body = {
      ...answer.body,
      callback: report.callback ?? { status: CallbackStatus.Pending, attempts: 0 },
    };
  }
  return answer;
}

/** A report in the list. */
export function listedReport(report: Report) {
  return {
    id: report.id,
    status: report.status,
    start_date: report.startDate,
    end_date: report.endDate,
    time_zone: report.timeZone,
    ...(report.callbackUrl ? { callback_url: report.callbackUrl } : {}),
    created_at: report.createdAt.toISOString(),
    completed_at: report.completedAt?.toISOString() ?? null,
    links: statusLinks(report.id),
  };
}

/** One attempt to deliver the report's callback. */
export function listedAttempt(attempt: CallbackAttempt) {
  return {
    attempt: attempt.attempt,
    at: attempt.at.toISOString(),
    status_code: attempt.statusCode,
    // Only when the partner answered: how fast a connection failed would tell how a port answers.
    duration_ms: attempt.statusCode === null ? null : attempt.durationMs,
    error: attempt.error,
  };
}

/** The PDF's headers (an answer to If-None-Match that matched carries the ETag alone). */
/** A finished report's PDF as the PDF route gives it (ReportsService.download). */
export type Download = { report: Report } & (
  | { notModified: true }
  | { pdf: Readable }
  /** REPORT_DOWNLOAD=redirect: a presigned URL of the object. */
  | { location: string }
);

export function pdfDisposition(report: Pick<Report, 'startDate' | 'endDate'>): string {
  return `attachment; filename="${pdfFilename(report.startDate, report.endDate)}"`;
}

/** The PDF route's answer, every header of it built here: 304, 307 to the object, or the bytes. */
export function downloadAnswer(download: Download): HttpAnswer<StreamableFile | ''> {
  const { report } = download;
  if ('notModified' in download) {
    return { status: 304, headers: { ETag: report.pdfEtag! }, body: '' };
  }
  if ('location' in download) {
    // The URL expires within minutes: never kept by a cache.
    return {
      status: 307,
      headers: {
        Location: download.location,
        'Repr-Digest': reprDigest(report),
        'Cache-Control': 'private, no-store',
      },
      body: '',
    };
  }
  return {
    headers: {
      ETag: report.pdfEtag!,
      'Repr-Digest': reprDigest(report),
      'Content-Type': 'application/pdf',
      'Content-Length': String(report.pdfSize),
      'Content-Disposition': pdfDisposition(report),
      'Cache-Control': 'private, max-age=0, must-revalidate',
    },
    body: new StreamableFile(download.pdf),
  };
}

/** How a report ended, as its callback tells it. */
export type CallbackState =
  | ({ status: ReportStatus.Completed } & PdfFacts)
  | Extract<FinalState, { status: ReportStatus.Failed }>;

/** The body POSTed to the report's callback_url when it ends (recipe 2), links absolute. */
export function callbackBody(
  reportId: string,
  state: CallbackState,
  publicBaseUrl: string,
): string {
  const body =
    state.status === ReportStatus.Completed
      ? {
          id: reportId,
          status: state.status,
          pdf: pdfSummary(state),
          links: [{ rel: 'reports', href: publicBaseUrl + reportPath(reportId) }],
        }
      : {
          id: reportId,
          status: state.status,
          error: { error_code: state.errorCode, error_message: state.errorMessage },
          links: [{ rel: 'status', href: publicBaseUrl + statusPath(reportId) }],
        };
  return JSON.stringify(body);
}
