//! openidconnect's HTTP client trait over our reqwest client (its own would pull a second
//! reqwest and TLS stack).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Discovery documents, JWKS and token responses are small; a provider that sends more is
/// broken or hostile.
const MAX_RESPONSE: usize = 1024 * 1024;

/// A client fit for talking to providers: no redirects (a provider's metadata could otherwise
/// point us at internal addresses via a 3xx) and bounded time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client builds once a rustls provider is installed")
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

#[derive(Clone)]
pub(super) struct Http(pub reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError(format!("invalid request: {e}")))?;
            let mut response = self
                .0
                .execute(request)
                .await
                .map_err(|e| HttpError(describe(&e)))?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| HttpError(describe(&e)))?
            {
                if body.len() + chunk.len() > MAX_RESPONSE {
                    return Err(HttpError("the response is larger than 1 MiB".into()));
                }
                body.extend_from_slice(&chunk);
            }
            builder
                .body(body)
                .map_err(|e| HttpError(format!("invalid response: {e}")))
        })
    }
}

/// reqwest's top-level message is terse ("error sending request"); the cause says why.
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
