/** The syntax a webhook URL must have; where its host points is checked elsewhere (it needs DNS). */
export interface UrlProblem {
  readonly rule: 'is_url' | 'url_scheme' | 'url_credentials';
  readonly message: string;
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export function webhookUrlProblem(text: string): UrlProblem | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { rule: 'is_url', message: 'url must be an absolute URL, e.g. https://hooks.example.com/gpumarket' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { rule: 'url_scheme', message: 'url must start with https:// or http://' };
  // Credentials in a URL would be stored and shown in the clear; the signature is the authentication.
  if (url.username !== '' || url.password !== '')
    return { rule: 'url_credentials', message: 'url must not contain a user name or password' };
  return null;
}
