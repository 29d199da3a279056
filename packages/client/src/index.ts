// @oose/client: a typed client of the OOSE prism API.
export { type ClientOptions, PrismClient, type Progress, type UploadOptions } from "./client.js";
export * from "./errors.js";
export type { DataFile, PathFile, UploadData, UploadFile } from "./multipart.js";
export type { SessionOptions } from "./session.js";
export type { RetryOptions, TransportOptions } from "./transport.js";
export type * from "./types.js";
export { type DeliveryQuery, deliveryUrl, staticUrl } from "./urls.js";
