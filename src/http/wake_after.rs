//! Wakes the couriers after the response, not before it: a handler's committed messages
//! (`persistence::courier_wake`) wake the couriers once the response body has been written
//! to the connection, or dropped unwritten (the client went away), whichever comes first.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use pin_project_lite::pin_project;

use crate::persistence::courier_wake::{HeldWakes, hold_wakes};

pub async fn wake_after_response<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, WakeAfter<B>>>, Error> {
    let (res, held) = hold_wakes(next.call(req)).await;
    // An error drops `held` here, which wakes at once.
    let res = res?;
    if held.is_empty() {
        return Ok(res.map_into_left_body());
    }
    Ok(res.map_body(|_, body| {
        EitherBody::right(WakeAfter {
            body,
            held: Some(held),
        })
    }))
}

pin_project! {
    /// A response body that releases the held wake-ups at its end or when dropped.
    pub struct WakeAfter<B> {
        #[pin]
        body: B,
        held: Option<HeldWakes>,
    }
}

impl<B: MessageBody> MessageBody for WakeAfter<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = this.body.poll_next(cx);
        if matches!(next, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.held.take();
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use actix_web::body::BoxBody;
    use futures_util::future::poll_fn;

    use super::*;
    use crate::persistence::courier_wake::{after_commit, mark_queued};
    use crate::persistence::{Store, StoreError};

    #[actix_web::test]
    async fn the_body_passes_through_and_its_end_wakes_the_couriers() {
        let store = Store::connect_lazy("memory").unwrap();
        let signal = store.outbox_wake().subscribe();
        let queue = after_commit(&store, async {
            mark_queued();
            Ok::<_, StoreError>(())
        });
        let (queued, held) = hold_wakes(queue).await;
        queued.unwrap();
        let wrapped = WakeAfter {
            body: BoxBody::new("a body"),
            held: Some(held),
        };
        assert_eq!(wrapped.size(), BodySize::Sized(6));
        let mut body = pin!(wrapped);
        let chunk = poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        assert_eq!(&chunk.unwrap().unwrap()[..], b"a body");
        assert!(
            !signal.has_changed().unwrap(),
            "woken before the body ended"
        );
        assert!(poll_fn(|cx| body.as_mut().poll_next(cx)).await.is_none());
        assert!(signal.has_changed().unwrap(), "the body's end did not wake");
        store.forget_outbox_wake();
    }
}
