//! Requests, responses and effects of the group APIs as plain Rust values. They carry the fields of
//! Kafka's messages that the state machine needs; the handlers convert to and from the wire codec.
//! A request names no group id: the coordinator picks the [`super::Group`] by it.

use bytes::Bytes;

use super::state::GroupState;
use crate::error_code::ErrorCode;

/// The generation id of error responses (Kafka's `UNKNOWN_GENERATION_ID`).
pub const NO_GENERATION: i32 = -1;

/// One protocol a member supports (for consumers: an assignor and its subscription metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Protocol name, e.g. `range` or `cooperative-sticky`.
    pub name: String,
    /// Opaque metadata for this protocol.
    pub metadata: Bytes,
}

/// JoinGroup (API 11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// The request's API version: from 4 a new dynamic member first gets MEMBER_ID_REQUIRED; from 9
    /// a static leader's restart can be answered with `skip_assignment`.
    pub api_version: i16,
    /// `client.id` of the request header.
    pub client_id: String,
    /// The client's address.
    pub client_host: String,
    /// How long the member may go without a heartbeat.
    pub session_timeout_ms: i32,
    /// How long a rebalance may wait for the member to rejoin (v0: the handler passes the session
    /// timeout, as Kafka does).
    pub rebalance_timeout_ms: i32,
    /// The member id; empty for a member joining for the first time.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Protocol type, e.g. `consumer`.
    pub protocol_type: String,
    /// Supported protocols in the client's order of preference.
    pub protocols: Vec<Protocol>,
    /// Why the member (re)joins (v8+), for logs.
    pub reason: Option<String>,
}

impl JoinGroupRequest {
    /// Whether a JoinGroup for a group id with no group creates the group (Kafka creates it only for
    /// an empty member id; any other member id is answered UNKNOWN_MEMBER_ID).
    pub fn creates_group(&self) -> bool {
        self.member_id.is_empty()
    }
}

/// One member in the leader's JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Bytes,
}

/// A JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// Error code.
    pub error: ErrorCode,
    /// The generation the member joined, [`NO_GENERATION`] on error.
    pub generation_id: i32,
    /// The group's protocol type (`None` on error).
    pub protocol_type: Option<String>,
    /// The chosen protocol (`None` on error).
    pub protocol_name: Option<String>,
    /// The leader's member id (empty on error).
    pub leader: String,
    /// The member is the leader but must not run the assignment (v9+, static leader restart).
    pub skip_assignment: bool,
    /// The member's id (the newly assigned one for MEMBER_ID_REQUIRED).
    pub member_id: String,
    /// Every member with its metadata, for the leader only; empty for the others.
    pub members: Vec<JoinGroupMember>,
}

impl JoinGroupResponse {
    /// An error response.
    pub fn error(member_id: impl Into<String>, error: ErrorCode) -> Self {
        Self {
            error,
            generation_id: NO_GENERATION,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }
}

/// One member's assignment in the leader's SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAssignment {
    /// Member id.
    pub member_id: String,
    /// Opaque assignment.
    pub assignment: Bytes,
}

/// SyncGroup (API 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// The generation the member joined.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Protocol type, checked when present (v5+).
    pub protocol_type: Option<String>,
    /// Protocol name, checked when present (v5+).
    pub protocol_name: Option<String>,
    /// The leader's assignments; empty for followers.
    pub assignments: Vec<MemberAssignment>,
}

/// A SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResponse {
    /// Error code.
    pub error: ErrorCode,
    /// The group's protocol type (`None` on error).
    pub protocol_type: Option<String>,
    /// The chosen protocol (`None` on error).
    pub protocol_name: Option<String>,
    /// The member's assignment (empty on error).
    pub assignment: Bytes,
}

impl SyncGroupResponse {
    /// An error response.
    pub fn error(error: ErrorCode) -> Self {
        Self { error, protocol_type: None, protocol_name: None, assignment: Bytes::new() }
    }
}

/// Heartbeat (API 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// The generation the member joined.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

/// One member leaving (LeaveGroup v3+ lists several; v0–2 name one member id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    /// Member id; empty to remove a static member by its instance id alone (admin removal).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Why the member leaves (v5+), for logs.
    pub reason: Option<String>,
}

/// The outcome for one leaving member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLeaveResult {
    /// Member id as asked.
    pub member_id: String,
    /// `group.instance.id` as asked.
    pub group_instance_id: Option<String>,
    /// NONE, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID.
    pub error: ErrorCode,
}

/// A LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupResponse {
    /// Group-level error.
    pub error: ErrorCode,
    /// Per-member results, in request order.
    pub members: Vec<MemberLeaveResult>,
}

impl LeaveGroupResponse {
    /// The top-level error code for `api_version`: v0–2 have no member list, so a single member's
    /// error becomes the response's error (as Kafka's `LeaveGroupResponse` does).
    pub fn error_for_version(&self, api_version: i16) -> ErrorCode {
        match (api_version, self.error, self.members.as_slice()) {
            (0..=2, ErrorCode::None, [member]) => member.error,
            _ => self.error,
        }
    }
}

/// A response due to a request that is waiting (a [`Reply::Pending`] returned earlier), routed by
/// member id and API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Answers the JoinGroup parked under `member_id`.
    JoinGroup {
        /// Member id the request waits under (may differ from `response.member_id`, which Kafka
        /// blanks in some errors).
        member_id: String,
        /// The response.
        response: JoinGroupResponse,
    },
    /// Answers the SyncGroup parked under `member_id`.
    SyncGroup {
        /// Member id the request waits under.
        member_id: String,
        /// The response.
        response: SyncGroupResponse,
    },
}

impl Effect {
    /// The member id the effect is addressed to.
    pub fn member_id(&self) -> &str {
        match self {
            Self::JoinGroup { member_id, .. } | Self::SyncGroup { member_id, .. } => member_id,
        }
    }
}

/// What the caller of a JoinGroup or SyncGroup gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<R> {
    /// Answer the caller with this response now.
    Now(R),
    /// The caller waits: its response will come as an [`Effect`] addressed to `member_id` (for a new
    /// member, the id the group just assigned).
    Pending {
        /// Member id to park the request under.
        member_id: String,
    },
}

/// The result of a JoinGroup or SyncGroup: the caller's reply and responses due to others.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "effects carry responses to other waiting members"]
pub struct Outcome<R> {
    /// For the caller.
    pub reply: Reply<R>,
    /// Responses due to other waiting requests, in member join order.
    pub effects: Vec<Effect>,
}

/// The result of an operation that always answers at once (Heartbeat, LeaveGroup, offset-commit
/// checks), plus responses due to waiting requests (timers that fired, a rebalance that completed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "effects carry responses to other waiting members"]
pub struct Answer<R> {
    /// For the caller.
    pub response: R,
    /// Responses due to other waiting requests.
    pub effects: Vec<Effect>,
}

/// The result of [`super::Group::tick`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "effects carry responses to waiting members"]
pub struct TickOutcome {
    /// Responses due to waiting requests.
    pub effects: Vec<Effect>,
    /// When the group next needs a tick, `None` when no timer runs.
    pub next_deadline_ms: Option<i64>,
}

/// One member in DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Client address.
    pub client_host: String,
    /// Metadata for the chosen protocol (empty unless the group is Stable, as in Kafka).
    pub metadata: Bytes,
    /// Assignment (empty unless the group is Stable).
    pub assignment: Bytes,
}

/// DescribeGroups data for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// Group id.
    pub group_id: String,
    /// State as Kafka spells it.
    pub state: GroupState,
    /// Protocol type, empty when none.
    pub protocol_type: String,
    /// Chosen protocol, empty unless the group is Stable.
    pub protocol: String,
    /// Members in join order.
    pub members: Vec<MemberSummary>,
}

impl GroupSummary {
    /// What DescribeGroups v0–5 answer for a group id with no group: state Dead, nothing else
    /// (v6+ answer GROUP_ID_NOT_FOUND instead).
    pub fn dead(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        }
    }
}

/// ListGroups data for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOverview {
    /// Group id.
    pub group_id: String,
    /// Protocol type, empty when none.
    pub protocol_type: String,
    /// State.
    pub state: GroupState,
}
