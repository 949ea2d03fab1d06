//! Feeds arbitrary bytes to the client-frame decoder (RequestHeader + the body of its opcode), to
//! the connect request and to the txn / quorum decoders. Any panic is a bug: decoding must be total.
//!
//! Run: `cd crates/jute/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode_request`
#![no_main]

use bytes::Bytes;
use jute::proto::{ConnectRequest, MultiResponse, Request, RequestHeader};
use jute::quorum::QuorumPacket;
use jute::txn::TxnEntry;
use jute::{decode_exact, DecodeError, Jute, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let mut r = Reader::new(input.clone());
    if let Ok(h) = RequestHeader::read(&mut r) {
        if let Ok(Some(req)) = Request::decode(h.op_type, &mut r) {
            // Whatever decodes must encode and decode again to the same request.
            let mut out = bytes::BytesMut::new();
            req.write_body(&mut out);
            // (Lossy strings may grow past the limit when re-encoded: the only allowed failure.)
            match Request::decode(h.op_type, &mut Reader::new(out.freeze())) {
                Ok(Some(again)) => assert_eq!(again, req),
                Err(DecodeError::BadLength { .. }) => {}
                other => panic!("re-decoding {req:?} gave {other:?}"),
            }
        }
    }
    let _ = decode_exact::<ConnectRequest>(input.clone());
    let _ = decode_exact::<MultiResponse>(input.clone());
    let _ = decode_exact::<QuorumPacket>(input.clone());
    let _ = TxnEntry::decode(input);
});
