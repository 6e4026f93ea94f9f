/**
 * What the PDF says of itself, shared by the template (template.ts) and the join
 * (pdf-join.ts). Chromium writes only the HTML's <title> into a part's Info dictionary, so the
 * title carries the subject, and the join sets the rest.
 */

/** The template's language (`<html lang>`), the catalog's /Lang. */
export const DOCUMENT_LANGUAGE = 'en';
/** The service, as Author and Producer. */
export const DOCUMENT_AUTHOR = 'orders-reports';

const TITLE_PREFIX = 'Orders report – ';

/** "Sakura Shop 株式会社, 1 Oct 2021 – 31 Oct 2021 (Europe/Paris)": the client and the period. */
export function documentSubject(clientName: string, period: string): string {
  return clientName ? `${clientName}, ${period}` : period;
}

export function documentTitle(subject: string): string {
  return TITLE_PREFIX + subject;
}

/** The subject a document's title carries, if it is one. */
export function subjectOf(title: string): string | undefined {
  return title.startsWith(TITLE_PREFIX) ? title.slice(TITLE_PREFIX.length) : undefined;
}
