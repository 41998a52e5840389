//! The notice a taken address's owner gets at sign-up is queued in the transaction that found
//! the address taken and delivered at once, with no courier poll to wait for (that commit
//! wakes the couriers itself; so does the decoy the sign-up's verification flow stores).

use crate::auth_support::register;
use crate::helpers::{spawn_postgres_with, spawn_with};
use crate::verification_support::wait_messages;

fn no_polling(s: &mut verity::config::Settings) {
    // Without a wake-up the notice would wait an hour for the courier's next look.
    s.courier.worker.pull_wait = verity::config::GoDuration::from_secs(3600);
}

async fn the_owners_notice_wakes_the_courier(app: crate::helpers::TestApp) {
    register(&app, "woken@example.com").await;
    register(&app, "woken@example.com").await;
    let messages = wait_messages(&app, "woken@example.com", 2).await;
    let notice = messages
        .iter()
        .find(|m| m["code"].is_null())
        .expect("the notice, delivered");
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("tried to sign up"),
        "{notice:?}"
    );
}

#[tokio::test]
async fn a_taken_addresss_notice_wakes_the_courier_sqlite() {
    the_owners_notice_wakes_the_courier(spawn_with(no_polling).await).await;
}

#[tokio::test]
async fn a_taken_addresss_notice_wakes_the_courier_postgres() {
    if let Some(app) = spawn_postgres_with(no_polling).await {
        the_owners_notice_wakes_the_courier(app).await;
    }
}
