/** A bundle's HTML report, for reviewers: derived from the manifest, never part of the signed bundle. */
export { ImageDocuments, MAX_DOCUMENT_BYTES } from './documents.ts';
export { escapeHtml } from './html.ts';
export { referrerKind, reportModel, type ReportInput, type ReportModel, type ReportVerification } from './model.ts';
export { readBundleHead, readUnverifiedForReport, readVerifiedForReport, type BundleForReport } from './read.ts';
export { renderModel, renderReport } from './render.ts';
export { isReportFileName, reportFileName } from './name.ts';
