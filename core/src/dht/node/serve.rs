//! Answering other nodes' queries: `ping`, `find_node`, `get_peers` and
//! `announce_peer`, statelessly (nothing kept per querier beyond the bounded
//! routing table and peer store).

use core::net::SocketAddr;

use super::{DhtNode, MAX_VALUES_PER_REPLY};
use crate::dht::krpc::{
    Body, Message, NodeId, NodeInfo, Query, Response, TransactionId, METHOD_UNKNOWN, PROTOCOL_ERROR,
};
use crate::time::Time;

impl DhtNode {
    pub(super) fn on_query(
        &mut self,
        now: Time,
        from: SocketAddr,
        t: TransactionId,
        ro: bool,
        q: Query,
    ) {
        if self.config.read_only {
            return;
        }
        let sender = q.id();
        if !ro && sender != self.id {
            let insert = self.table.heard_query(
                NodeInfo {
                    id: sender,
                    addr: from,
                },
                now,
            );
            self.on_insert(now, insert);
        }
        let body = match q {
            Query::Ping { .. } => Body::Response(Response::new(self.id)),
            Query::FindNode { target, .. } => Body::Response(self.nodes_reply(&target, &sender)),
            Query::GetPeers { info_hash, .. } => {
                let values = self.store.get(&info_hash, now, MAX_VALUES_PER_REPLY);
                let mut r = if values.is_empty() {
                    self.nodes_reply(&info_hash.into(), &sender)
                } else {
                    Response::new(self.id)
                };
                r.values = values;
                r.token = Some(self.tokens.token_for(from.ip(), now).to_vec());
                Body::Response(r)
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                ..
            } => {
                let port = if implied_port { from.port() } else { port };
                if !self.tokens.check(from.ip(), &token, now) {
                    error_body(PROTOCOL_ERROR, "bad token")
                } else if port == 0 {
                    error_body(PROTOCOL_ERROR, "bad port")
                } else {
                    self.store
                        .insert(info_hash, SocketAddr::new(from.ip(), port), now);
                    Body::Response(Response::new(self.id))
                }
            }
            Query::Unknown { .. } => error_body(METHOD_UNKNOWN, "method unknown"),
        };
        let reply = match body {
            Body::Response(r) => {
                let mut reply = Message::response(t, r);
                reply.requester = Some(from);
                reply
            }
            Body::Error { code, message } => Message::error(t, code, message),
            Body::Query(_) => return,
        };
        self.send(from, &reply);
    }

    /// A reply naming the nodes closest to `target`, leaving out the asker.
    fn nodes_reply(&self, target: &NodeId, asker: &NodeId) -> Response {
        let mut r = Response::new(self.id);
        for n in self.table.closest(target, self.config.k + 1) {
            if n.id == *asker {
                continue;
            }
            match n.addr {
                SocketAddr::V4(addr) => r.nodes.push(NodeInfo { id: n.id, addr }),
                SocketAddr::V6(addr) => r.nodes6.push(NodeInfo { id: n.id, addr }),
            }
        }
        r.nodes.truncate(self.config.k);
        r.nodes6.truncate(self.config.k);
        r
    }
}

fn error_body(code: i64, message: &str) -> Body {
    Body::Error {
        code,
        message: message.into(),
    }
}
