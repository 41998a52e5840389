//! A client that follows redirects but keeps no cookies (a link checker, `curl -L`) is told
//! what is missing instead of going round between a flow's init and its page for ever.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_client_without_cookies_gets_the_error_page_instead_of_a_redirect_loop() {
    let app = spawn_app().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for kind in ["verification", "login", "registration", "recovery"] {
        let init = http
            .get(format!("{}/self-service/{kind}/browser", app.public))
            .send()
            .await
            .unwrap();
        assert_eq!(init.status(), 303, "{kind}");
        let page = init.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(page.contains(&format!("/ui/{kind}?flow=")), "{page}");
        let cookies: Vec<String> = init
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        // Without the cookie just set: the error page, not another round.
        let r = http.get(&page).send().await.unwrap();
        assert_eq!(r.status(), 400, "{kind}: {:?}", r.headers().get(LOCATION));
        let body = r.text().await.unwrap();
        assert!(body.contains("did not keep the cookie"), "{kind}: {body}");
        // With it, the page.
        let r = http
            .get(&page)
            .header(COOKIE, cookies.join("; "))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{kind}");
    }
}
