// One table-driven test over every route of the OpenAPI document and every
// kind of caller: who is refused (401/403) and who gets through.

mod common;
use common::*;
use reqwest::Method;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// No credential needed.
    Public,
    /// Any valid credential.
    Authenticated,
    /// Any Active member of the organization.
    Member,
    /// Admin or Owner (a capability the Member role lacks).
    Admin,
    /// The Owner role only.
    Owner,
    /// The platform key only.
    Platform,
}

/// The requirement of every route. A new route must be added here.
fn requirement(method: &str, path: &str) -> Level {
    use Level::*;
    let org = "/v1/organizations/{organization_id}";
    let rest = path.strip_prefix(org);
    match (method, path, rest) {
        ("POST", "/v1/auth/login", _)
        | ("POST", "/v1/invitations/complete", _)
        | ("GET", "/v1/invitations/validate/{email_key}", _) => Public,
        ("POST", "/v1/auth/logout", _)
        | ("GET", "/v1/capabilities", _)
        | ("POST", "/v1/invitations/accept", _)
        | ("GET", "/v1/organizations", _)
        | ("POST", "/v1/organizations", _)
        | ("GET", "/v1/users/{user_id}", _) => Authenticated,
        ("POST", "/v1/users", _) => Platform,
        ("DELETE", _, Some("")) => Owner,
        ("GET", _, Some(r)) if r.is_empty() || READS.contains(&r) => Member,
        ("POST", _, Some(r))
            if [
                "/check",
                "/check/batch",
                "/users",
                "/users/ids",
                "/users/by-ids",
            ]
            .contains(&r) =>
        {
            Member
        }
        (_, _, Some(_)) => Admin,
        _ => panic!("{method} {path} is not in the authorization table: add it"),
    }
}

const READS: [&str; 13] = [
    "/departments",
    "/departments/tree",
    "/departments/{department_id}",
    "/departments/{department_id}/members",
    "/departments/{department_id}/roles",
    "/roles",
    "/roles/{role_id}",
    "/roles/{role_id}/members",
    "/statuses",
    "/users/status-summary",
    "/users/{user_id}",
    "/permissions",
    "/permissions/{permission}/users",
];
// Effective permissions and UI access of *another* member (the placeholder
// user) need a capability, so they fall under Admin; one's own are open to members.

fn concrete(path: &str, org: &str) -> String {
    path.replace("{organization_id}", org)
        .replace("{user_id}", "usr_nonexistent")
        .replace("{role_id}", "role_nonexistent")
        .replace("{department_id}", "dept_nonexistent")
        .replace("{key_id}", "key_nonexistent")
        .replace("{invitation_id}", "inv_nonexistent")
        .replace("{email_key}", "not-a-real-key")
        .replace("{permission}", "manage_users")
}

#[tokio::test]
async fn every_route_refuses_exactly_the_callers_it_should() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let member = app.member(&org, "Max Member", "role_member").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let (_other, stranger) = app.org("Blue").await;
    let doc = serde_json::to_value(roster_http::openapi()).unwrap();
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        // the other dialects have their own authorization tests
        if roster_http::app::Dialect::of(path) != roster_http::app::Dialect::Org {
            continue;
        }
        for m in ops.as_object().unwrap().keys() {
            routes.push((m.to_uppercase(), path.clone()));
        }
    }
    // a document that lost the dialect's routes must not pass as an empty matrix
    assert!(routes.len() >= 60, "{routes:?}");
    // deleting the organization and logging out go last: they end the
    // organization and the callers' sessions
    let last = |m: &str, p: &str| match (m, p) {
        ("DELETE", "/v1/organizations/{organization_id}") => 1,
        ("POST", "/v1/auth/logout") => 2,
        _ => 0,
    };
    routes.sort_by_key(|(m, p)| (last(m, p), p.clone(), m.clone()));
    let callers: [(&str, Option<&str>, Level); 6] = [
        ("anonymous", None, Level::Public),
        ("stranger", Some(&stranger.token), Level::Authenticated),
        ("member", Some(&member.token), Level::Member),
        ("admin", Some(&admin.token), Level::Admin),
        ("platform", Some(PLATFORM_KEY), Level::Platform),
        ("owner", Some(&owner.token), Level::Owner),
    ];
    let mut failures = Vec::new();
    for (method, path) in &routes {
        let need = requirement(method, path);
        let url = concrete(path, &org);
        for (who, key, level) in &callers {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let r = app.call(m, &url, *key, body).await;
            let should_pass = match need {
                Level::Public => true,
                Level::Authenticated => *level >= Level::Authenticated,
                Level::Member | Level::Admin => {
                    *level == Level::Platform
                        || *level == Level::Owner
                        || (*level >= need && *level != Level::Authenticated)
                }
                Level::Owner => matches!(level, Level::Owner | Level::Platform),
                Level::Platform => *level == Level::Platform,
            };
            let refused = r.status == 401 || r.status == 403;
            if should_pass == refused || r.status >= 500 {
                failures.push(format!(
                    "{who:>9} {method} {path} -> {} {} (needs {need:?})",
                    r.status,
                    r.code()
                ));
            }
            if !should_pass {
                let want = match (level, need) {
                    (Level::Public, _) => "AUTHENTICATION_REQUIRED",
                    (Level::Authenticated, Level::Platform) => "INSUFFICIENT_PERMISSIONS",
                    (Level::Authenticated, _) => "ORGANIZATION_ACCESS_DENIED",
                    _ => "INSUFFICIENT_PERMISSIONS",
                };
                if r.code() != want {
                    failures.push(format!(
                        "{who:>9} {method} {path} -> {} instead of {want}",
                        r.code()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
