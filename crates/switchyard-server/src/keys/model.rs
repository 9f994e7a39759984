//! Virtual keys and teams as the gateway keeps them, their JSON views (LiteLLM's field names)
//! and the request fields of the key and team routes.

use serde_json::{Map, Value, json};
use switchyard::Error;
use switchyard_types::JsonMap;

use crate::spend::store::rfc3339;

/// One virtual key. Its text is never kept: `token` is its SHA-256 (hex).
#[derive(Clone, Default, PartialEq)]
pub struct VirtualKey {
    /// SHA-256 of the key, hex (LiteLLM's `token`).
    pub token: String,
    /// The key abbreviated for display (`sk-...abcd`).
    pub key_name: String,
    /// `key_alias`.
    pub key_alias: Option<String>,
    /// `team_id`.
    pub team_id: Option<String>,
    /// `user_id`.
    pub user_id: Option<String>,
    /// Models it may call (names, aliases, wildcards, `all-team-models`); empty: all.
    pub models: Vec<String>,
    /// `max_budget` (USD).
    pub max_budget: Option<f64>,
    /// Spend as the database held it when read.
    pub spend: f64,
    /// `budget_duration` (`30s`, `1h`, `1d`, `1mo`, …).
    pub budget_duration: Option<String>,
    /// When the spend next resets (Unix ms).
    pub budget_reset_at: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// When it stops working (Unix ms).
    pub expires: Option<i64>,
    /// `metadata`.
    pub metadata: JsonMap,
    /// `tags`.
    pub tags: Vec<String>,
    /// `allowed_routes`; empty: the routes every virtual key may call.
    pub allowed_routes: Vec<String>,
    /// Refused outright.
    pub blocked: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// Every field but `token`: a hash is a secret too, and Debug output ends up in logs.
impl std::fmt::Debug for VirtualKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKey")
            .field("token", &"<redacted>")
            .field("key_name", &self.key_name)
            .field("key_alias", &self.key_alias)
            .field("team_id", &self.team_id)
            .field("user_id", &self.user_id)
            .field("models", &self.models)
            .field("max_budget", &self.max_budget)
            .field("spend", &self.spend)
            .field("budget_duration", &self.budget_duration)
            .field("budget_reset_at", &self.budget_reset_at)
            .field("rpm_limit", &self.rpm_limit)
            .field("tpm_limit", &self.tpm_limit)
            .field("max_parallel_requests", &self.max_parallel_requests)
            .field("expires", &self.expires)
            .field("metadata", &self.metadata)
            .field("tags", &self.tags)
            .field("allowed_routes", &self.allowed_routes)
            .field("blocked", &self.blocked)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// One team member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// `user_id`.
    pub user_id: Option<String>,
    /// `user_email`.
    pub user_email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
}

/// One team.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Team {
    /// `team_id`.
    pub team_id: String,
    /// `team_alias`.
    pub team_alias: Option<String>,
    /// `members_with_roles`.
    pub members: Vec<Member>,
    /// Models its keys may call; empty: all.
    pub models: Vec<String>,
    /// `max_budget` (USD).
    pub max_budget: Option<f64>,
    /// Spend as the database held it when read.
    pub spend: f64,
    /// `budget_duration`.
    pub budget_duration: Option<String>,
    /// When the spend next resets (Unix ms).
    pub budget_reset_at: Option<i64>,
    /// Requests per minute, all its keys together.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute, all its keys together.
    pub tpm_limit: Option<i64>,
    /// Requests in flight at once, all its keys together.
    pub max_parallel_requests: Option<i64>,
    /// `metadata`.
    pub metadata: JsonMap,
    /// Every key of the team is refused.
    pub blocked: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

fn time_value(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(rfc3339(ms)))
}

impl VirtualKey {
    /// LiteLLM's view of the key row (as `/key/info` shows it under `info`), with `spend`.
    pub fn to_json(&self, spend: f64) -> Value {
        json!({
            "token": self.token,
            "key_name": self.key_name,
            "key_alias": self.key_alias,
            "spend": spend,
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "budget_reset_at": time_value(self.budget_reset_at),
            "expires": time_value(self.expires),
            "models": self.models,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "max_parallel_requests": self.max_parallel_requests,
            "metadata": self.metadata,
            "tags": self.tags,
            "allowed_routes": self.allowed_routes,
            "blocked": self.blocked,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

impl Member {
    fn to_json(&self) -> Value {
        json!({"user_id": self.user_id, "user_email": self.user_email, "role": self.role})
    }

    /// A member from `{"user_id", "user_email", "role"}`.
    pub fn from_json(value: &Value, param: &str) -> Result<Member, Error> {
        let object = value.as_object().ok_or_else(|| {
            Error::invalid_request(format!("'{param}' must be an object."), Some(param))
        })?;
        let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
        let member = Member {
            user_id: text("user_id"),
            user_email: text("user_email"),
            role: text("role").unwrap_or_else(|| "user".into()),
        };
        if member.user_id.is_none() && member.user_email.is_none() {
            return Err(Error::invalid_request(
                format!("'{param}' needs a user_id or a user_email."),
                Some(param),
            ));
        }
        if member.role != "admin" && member.role != "user" {
            return Err(Error::invalid_request(
                format!("'{param}.role' must be admin or user."),
                Some(&format!("{param}.role")),
            ));
        }
        Ok(member)
    }

    /// True when `other` names the same person.
    pub fn same(&self, other: &Member) -> bool {
        (self.user_id.is_some() && self.user_id == other.user_id)
            || (self.user_email.is_some() && self.user_email == other.user_email)
    }
}

impl Team {
    /// LiteLLM's view of the team row, with `spend`.
    pub fn to_json(&self, spend: f64) -> Value {
        let ids = |role: &str| -> Vec<Value> {
            self.members
                .iter()
                .filter(|m| m.role == role)
                .filter_map(|m| m.user_id.clone().map(Value::String))
                .collect()
        };
        json!({
            "team_id": self.team_id,
            "team_alias": self.team_alias,
            "members_with_roles": self.members.iter().map(Member::to_json).collect::<Vec<_>>(),
            "admins": ids("admin"),
            "members": ids("user"),
            "models": self.models,
            "spend": spend,
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "budget_reset_at": time_value(self.budget_reset_at),
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "max_parallel_requests": self.max_parallel_requests,
            "metadata": self.metadata,
            "blocked": self.blocked,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

/// A span of time as LiteLLM writes it: `30s`, `10m`, `1h`, `1d`, `2w`, `1mo`, `1y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Seconds.
    Seconds(i64),
    /// Calendar months.
    Months(i64),
}

impl Span {
    /// Parses `text`; `None` when it is not a span.
    pub fn parse(text: &str) -> Option<Span> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit())?;
        let (number, unit) = text.split_at(split);
        let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hr" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            "mo" | "month" | "months" => return Some(Span::Months(n)),
            "y" | "year" | "years" => return Some(Span::Months(n.checked_mul(12)?)),
            _ => return None,
        };
        Some(Span::Seconds(n.checked_mul(seconds)?))
    }

    /// `from_ms` plus this span (calendar months keep the day, clamped to the month's end).
    pub fn after(self, from_ms: i64) -> i64 {
        match self {
            Span::Seconds(s) => from_ms.saturating_add(s.saturating_mul(1000)),
            Span::Months(n) => add_months(from_ms, n),
        }
    }
}

fn add_months(from_ms: i64, months: i64) -> i64 {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(from_ms) * 1_000_000)
    else {
        return from_ms;
    };
    let index = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let (Ok(year), Ok(month)) = (
        i32::try_from(index.div_euclid(12)),
        u8::try_from(index.rem_euclid(12) + 1),
    ) else {
        return from_ms;
    };
    let Ok(month) = time::Month::try_from(month) else {
        return from_ms;
    };
    let day = t.day().min(days_in_month(year, month));
    match time::Date::from_calendar_date(year, month, day) {
        Ok(date) => {
            let moved = t.replace_date(date);
            i64::try_from(moved.unix_timestamp_nanos() / 1_000_000).unwrap_or(from_ms)
        }
        Err(_) => from_ms,
    }
}

fn days_in_month(year: i32, month: time::Month) -> u8 {
    let next = month.next();
    let next_year = if next == time::Month::January {
        year + 1
    } else {
        year
    };
    match (
        time::Date::from_calendar_date(year, month, 1),
        time::Date::from_calendar_date(next_year, next, 1),
    ) {
        (Ok(a), Ok(b)) => u8::try_from((b - a).whole_days()).unwrap_or(28),
        _ => 28,
    }
}

/// The fields of a key or team request body, read with errors naming the field at fault.
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
}

/// What a field said: absent, `null` (clear it), or a value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    /// Not in the body: leave as it is.
    #[default]
    Absent,
    /// `null`: clear.
    Null,
    /// A value.
    Set(T),
}

impl<T> Field<T> {
    /// Applies the field to `slot` (an optional value).
    pub fn apply(self, slot: &mut Option<T>) {
        match self {
            Field::Absent => {}
            Field::Null => *slot = None,
            Field::Set(v) => *slot = Some(v),
        }
    }

    /// The value, when set.
    pub fn value(self) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }

    /// True when the body had the field (a value or null).
    pub fn present(&self) -> bool {
        !matches!(self, Field::Absent)
    }
}

fn invalid(name: &str, what: &str) -> Error {
    Error::invalid_request(format!("'{name}' must be {what}."), Some(name))
        .with_code("invalid_type")
}

impl<'a> Fields<'a> {
    /// The fields of `body`, which must be a JSON object.
    pub fn of(body: &'a Value) -> Result<Fields<'a>, Error> {
        let body = body.as_object().ok_or_else(|| {
            Error::invalid_request("The request body must be a JSON object.", None)
                .with_code("invalid_json")
        })?;
        Ok(Fields { body })
    }

    fn raw(&self, name: &str) -> Field<&'a Value> {
        match self.body.get(name) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Set(v),
        }
    }

    /// A text field.
    pub fn text(&self, name: &str) -> Result<Field<String>, Error> {
        Ok(match self.raw(name) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(Value::String(s)) => Field::Set(s.clone()),
            Field::Set(_) => return Err(invalid(name, "a string")),
        })
    }

    /// A non-negative number (USD).
    pub fn money(&self, name: &str) -> Result<Field<f64>, Error> {
        Ok(match self.raw(name) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(v) => match v.as_f64() {
                Some(n) if n >= 0.0 && n.is_finite() => Field::Set(n),
                _ => return Err(invalid(name, "a number of at least 0")),
            },
        })
    }

    /// A non-negative whole number (a limit).
    pub fn limit(&self, name: &str) -> Result<Field<i64>, Error> {
        Ok(match self.raw(name) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(v) => match v.as_i64() {
                Some(n) if n >= 0 => Field::Set(n),
                _ => return Err(invalid(name, "a whole number of at least 0")),
            },
        })
    }

    /// A list of strings.
    pub fn list(&self, name: &str) -> Result<Field<Vec<String>>, Error> {
        Ok(match self.raw(name) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(Value::Array(items)) => Field::Set(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| invalid(name, "a list of strings"))?,
            ),
            Field::Set(_) => return Err(invalid(name, "a list of strings")),
        })
    }

    /// A JSON object.
    pub fn object(&self, name: &str) -> Result<Field<JsonMap>, Error> {
        Ok(match self.raw(name) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(Value::Object(m)) => Field::Set(m.clone()),
            Field::Set(_) => return Err(invalid(name, "an object")),
        })
    }

    /// A boolean.
    pub fn flag(&self, name: &str) -> Result<Field<bool>, Error> {
        Ok(match self.raw(name) {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(Value::Bool(b)) => Field::Set(*b),
            Field::Set(_) => return Err(invalid(name, "true or false")),
        })
    }

    /// A span (`30s`, `1d`, `1mo`).
    pub fn span(&self, name: &str) -> Result<Field<(String, Span)>, Error> {
        Ok(match self.text(name)? {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Set(text) => match Span::parse(&text) {
                Some(span) => Field::Set((text, span)),
                None => {
                    return Err(invalid(
                        name,
                        "a duration such as 30s, 10m, 1h, 1d, 1w, 1mo or 1y",
                    ));
                }
            },
        })
    }

    /// The raw value of a field.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.body.get(name)
    }
}

/// The settings of a key (or a team) that a body may set: shared by generate and update.
#[derive(Debug, Default)]
pub struct KeyChanges {
    /// `key_alias`.
    pub key_alias: Field<String>,
    /// `team_id`.
    pub team_id: Field<String>,
    /// `user_id`.
    pub user_id: Field<String>,
    /// `models`.
    pub models: Field<Vec<String>>,
    /// `max_budget`.
    pub max_budget: Field<f64>,
    /// `budget_duration`.
    pub budget_duration: Field<(String, Span)>,
    /// `rpm_limit`.
    pub rpm_limit: Field<i64>,
    /// `tpm_limit`.
    pub tpm_limit: Field<i64>,
    /// `max_parallel_requests`.
    pub max_parallel_requests: Field<i64>,
    /// `duration` (from now), or `expires` (a time).
    pub expires: Field<i64>,
    /// `metadata`.
    pub metadata: Field<JsonMap>,
    /// `tags`.
    pub tags: Field<Vec<String>>,
    /// `allowed_routes`.
    pub allowed_routes: Field<Vec<String>>,
    /// `blocked`.
    pub blocked: Field<bool>,
}

impl KeyChanges {
    /// Reads the key settings of `fields`; `now_ms` dates a `duration`.
    pub fn read(fields: &Fields<'_>, now_ms: i64) -> Result<KeyChanges, Error> {
        let expires = match fields.text("duration")? {
            Field::Set(text) if text == "permanent" || text.is_empty() => Field::Null,
            Field::Set(text) => match Span::parse(&text) {
                Some(span) => Field::Set(span.after(now_ms)),
                None => {
                    return Err(invalid(
                        "duration",
                        "a duration such as 30s, 10m, 1h, 1d, 1w, 1mo or 1y",
                    ));
                }
            },
            Field::Null => Field::Null,
            Field::Absent => match fields.text("expires")? {
                Field::Set(text) => Field::Set(
                    parse_time(&text)
                        .ok_or_else(|| invalid("expires", "a time in RFC 3339 format"))?,
                ),
                other => match other {
                    Field::Null => Field::Null,
                    _ => Field::Absent,
                },
            },
        };
        Ok(KeyChanges {
            key_alias: fields.text("key_alias")?,
            team_id: fields.text("team_id")?,
            user_id: fields.text("user_id")?,
            models: fields.list("models")?,
            max_budget: fields.money("max_budget")?,
            budget_duration: fields.span("budget_duration")?,
            rpm_limit: fields.limit("rpm_limit")?,
            tpm_limit: fields.limit("tpm_limit")?,
            max_parallel_requests: fields.limit("max_parallel_requests")?,
            expires,
            metadata: fields.object("metadata")?,
            tags: fields.list("tags")?,
            allowed_routes: fields.list("allowed_routes")?,
            blocked: fields.flag("blocked")?,
        })
    }

    /// Applies the changes to `key`; a new `budget_duration` starts its period at `now_ms`.
    pub fn apply(self, key: &mut VirtualKey, now_ms: i64) {
        self.key_alias.apply(&mut key.key_alias);
        self.team_id.apply(&mut key.team_id);
        self.user_id.apply(&mut key.user_id);
        if let Some(models) = list_change(self.models) {
            key.models = models;
        }
        self.max_budget.apply(&mut key.max_budget);
        match self.budget_duration {
            Field::Absent => {}
            Field::Null => {
                key.budget_duration = None;
                key.budget_reset_at = None;
            }
            Field::Set((text, span)) => {
                key.budget_duration = Some(text);
                key.budget_reset_at = Some(span.after(now_ms));
            }
        }
        self.rpm_limit.apply(&mut key.rpm_limit);
        self.tpm_limit.apply(&mut key.tpm_limit);
        self.max_parallel_requests
            .apply(&mut key.max_parallel_requests);
        self.expires.apply(&mut key.expires);
        match self.metadata {
            Field::Absent => {}
            Field::Null => key.metadata = JsonMap::new(),
            Field::Set(m) => key.metadata = m,
        }
        if let Some(tags) = list_change(self.tags) {
            key.tags = tags;
        }
        if let Some(routes) = list_change(self.allowed_routes) {
            key.allowed_routes = routes;
        }
        if let Some(blocked) = self.blocked.value() {
            key.blocked = blocked;
        }
    }
}

fn list_change(field: Field<Vec<String>>) -> Option<Vec<String>> {
    match field {
        Field::Absent => None,
        Field::Null => Some(Vec::new()),
        Field::Set(v) => Some(v),
    }
}

/// The settings a team body may set.
#[derive(Debug, Default)]
pub struct TeamChanges {
    /// `team_alias`.
    pub team_alias: Field<String>,
    /// `models`.
    pub models: Field<Vec<String>>,
    /// `max_budget`.
    pub max_budget: Field<f64>,
    /// `budget_duration`.
    pub budget_duration: Field<(String, Span)>,
    /// `rpm_limit`.
    pub rpm_limit: Field<i64>,
    /// `tpm_limit`.
    pub tpm_limit: Field<i64>,
    /// `max_parallel_requests`.
    pub max_parallel_requests: Field<i64>,
    /// `metadata`.
    pub metadata: Field<JsonMap>,
    /// `blocked`.
    pub blocked: Field<bool>,
    /// `members_with_roles`.
    pub members: Field<Vec<Member>>,
}

impl TeamChanges {
    /// Reads the team settings of `fields`.
    pub fn read(fields: &Fields<'_>) -> Result<TeamChanges, Error> {
        let members = match fields.value("members_with_roles") {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::Array(items)) => Field::Set(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Member::from_json(m, &format!("members_with_roles[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(invalid("members_with_roles", "a list of members")),
        };
        Ok(TeamChanges {
            team_alias: fields.text("team_alias")?,
            models: fields.list("models")?,
            max_budget: fields.money("max_budget")?,
            budget_duration: fields.span("budget_duration")?,
            rpm_limit: fields.limit("rpm_limit")?,
            tpm_limit: fields.limit("tpm_limit")?,
            max_parallel_requests: fields.limit("max_parallel_requests")?,
            metadata: fields.object("metadata")?,
            blocked: fields.flag("blocked")?,
            members,
        })
    }

    /// Applies the changes to `team`.
    pub fn apply(self, team: &mut Team, now_ms: i64) {
        self.team_alias.apply(&mut team.team_alias);
        if let Some(models) = list_change(self.models) {
            team.models = models;
        }
        self.max_budget.apply(&mut team.max_budget);
        match self.budget_duration {
            Field::Absent => {}
            Field::Null => {
                team.budget_duration = None;
                team.budget_reset_at = None;
            }
            Field::Set((text, span)) => {
                team.budget_duration = Some(text);
                team.budget_reset_at = Some(span.after(now_ms));
            }
        }
        self.rpm_limit.apply(&mut team.rpm_limit);
        self.tpm_limit.apply(&mut team.tpm_limit);
        self.max_parallel_requests
            .apply(&mut team.max_parallel_requests);
        match self.metadata {
            Field::Absent => {}
            Field::Null => team.metadata = JsonMap::new(),
            Field::Set(m) => team.metadata = m,
        }
        if let Some(blocked) = self.blocked.value() {
            team.blocked = blocked;
        }
        match self.members {
            Field::Absent => {}
            Field::Null => team.members.clear(),
            Field::Set(m) => team.members = m,
        }
    }
}

/// RFC 3339 → Unix ms.
pub fn parse_time(text: &str) -> Option<i64> {
    let format = time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(text.trim(), &format).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The key shortened for display, as LiteLLM's `key_name` shows it: `sk-...` and its last
/// four characters.
pub fn abbreviate(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spans_read_as_litellm_writes_them() {
        assert_eq!(Span::parse("30s"), Some(Span::Seconds(30)));
        assert_eq!(Span::parse("10m"), Some(Span::Seconds(600)));
        assert_eq!(Span::parse("1h"), Some(Span::Seconds(3600)));
        assert_eq!(Span::parse("30d"), Some(Span::Seconds(30 * 86_400)));
        assert_eq!(Span::parse("1mo"), Some(Span::Months(1)));
        assert_eq!(Span::parse("1y"), Some(Span::Months(12)));
        assert_eq!(Span::parse("0s"), None);
        assert_eq!(Span::parse("soon"), None);
        assert_eq!(Span::parse("5x"), None);
        // 31 January + 1 month = 28 February (2027 is not a leap year).
        let jan31 = parse_time("2027-01-31T12:00:00Z").unwrap();
        assert_eq!(
            rfc3339(Span::Months(1).after(jan31)),
            "2027-02-28T12:00:00Z"
        );
        assert_eq!(
            rfc3339(Span::Months(12).after(jan31)),
            "2028-01-31T12:00:00Z"
        );
    }

    #[test]
    fn key_names_show_only_the_tail() {
        assert_eq!(abbreviate("sk-abcdefgh1234"), "sk-...1234");
    }
}
