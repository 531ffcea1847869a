/**
 * A client's base URL and credentials, apart. Credentials written in the URL
 * (`user:pass@host`) would otherwise travel into request paths and error messages: they are
 * taken out (the explicit ones win). The URL's own parse error is not passed on, since it
 * would echo the input, credentials included.
 */
export function baseUrlOf(client: string, baseUrl: string, credentials: { username?: string | undefined; password?: string | undefined }): { url: URL; username: string | undefined; password: string | undefined } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`${client}: baseUrl is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${client}: baseUrl must be http(s)`);
  let { username, password } = credentials;
  if (url.username !== '' || url.password !== '') {
    username ??= decodeURIComponent(url.username);
    password ??= decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
  }
  return { url, username, password };
}
