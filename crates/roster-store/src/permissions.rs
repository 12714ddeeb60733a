//! Permission keys an organization defines for itself, and effective
//! permissions (answered from the permission index, not the database).

use crate::db::{conflict, db_err, now_micros};
use crate::orgs::json;
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::index::{Effective, Reason};
use roster_core::text::bounded_opt;
use roster_core::*;
use sqlx::any::AnyRow;

/// The `org_id` under which deployment-wide keys are stored.
const DEPLOYMENT: &str = "";

fn def_of(row: &AnyRow) -> Result<PermissionDef> {
    Ok(PermissionDef {
        key: PermissionKey::parse(&str_of(row, "perm_key")?).map_err(Error::internal)?,
        description: opt_str_of(row, "description")?,
        org_id: opt_uuid_of(row, "org_id")?.map(OrgId),
        created_at: ts_of(row, "created_at")?,
    })
}

/// What a user may do in an organization, at organization scope.
#[derive(Debug, Clone)]
pub struct EffectivePermissions {
    pub user: UserId,
    /// Allowed keys (sorted, denials removed) and the roles that reached the user.
    pub effective: Effective,
    /// `None` when an owner-like role gives the user every department;
    /// otherwise their departments and all their descendants.
    pub department_scope: Option<Vec<DeptId>>,
    /// Per allowed key, the assignments that allowed it (only when asked to explain).
    pub reasons: Option<Vec<(String, Vec<Reason>)>>,
    /// The index revision the answer was read from.
    pub revision: i64,
    pub resolved_at: Timestamp,
}

impl EffectivePermissions {
    /// The allowed keys that are built-in capabilities, sorted.
    pub fn capabilities(&self) -> Vec<String> {
        self.effective
            .permissions
            .iter()
            .map(|(k, _)| k)
            .filter(|k| is_capability(k))
            .cloned()
            .collect()
    }

    /// Every allowed key (capabilities and defined keys), sorted.
    pub fn permissions(&self) -> Vec<String> {
        self.effective
            .permissions
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn has(&self, key: &str) -> bool {
        self.effective.permissions.iter().any(|(k, _)| k == key)
    }
}

impl Store {
    /// The organization's own permission keys and the deployment-wide ones, by key.
    pub async fn list_permissions(
        &self,
        access: &OrgAccess<need::AnyMember>,
    ) -> Result<Vec<PermissionDef>> {
        let rows = sqlx::query(
            "SELECT org_id, perm_key, description, created_at FROM permissions WHERE org_id = $1 OR org_id = $2 \
             ORDER BY perm_key, org_id",
        )
        .bind(id(access.org()))
        .bind(DEPLOYMENT)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(def_of).collect()
    }

    /// Defines a permission key for the organization. Built-in capabilities and
    /// deployment-wide keys cannot be redefined; wildcards are for grants only.
    pub async fn create_permission(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        key: &str,
        description: Option<&str>,
    ) -> Result<Written<PermissionDef>> {
        let org = access.org();
        let key =
            PermissionKey::parse(key.trim()).map_err(|e| Error::validation("key", e.message))?;
        if key.is_wildcard() {
            return Err(Error::validation(
                "key",
                "a defined permission cannot be a wildcard",
            ));
        }
        if is_builtin_key(key.as_str()) {
            return Err(Error::PermissionTaken(key.as_str().to_owned()));
        }
        let description = bounded_opt("description", description, 500)?;
        let mut tx = self.begin(ctx).await?;
        // The key constraint is per organization, so a deployment-wide key is
        // looked up. Those are written only by imports; losing that race would
        // only leave an organization key shadowing an identical global one.
        let global =
            sqlx::query("SELECT perm_key FROM permissions WHERE org_id = $1 AND perm_key = $2")
                .bind(DEPLOYMENT)
                .bind(key.as_str())
                .fetch_optional(tx.conn())
                .await
                .map_err(db_err)?;
        if global.is_some() {
            return Err(Error::PermissionTaken(key.as_str().to_owned()));
        }
        let now = now_micros();
        sqlx::query(
            "INSERT INTO permissions (org_id, perm_key, description, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id(org))
        .bind(key.as_str())
        .bind(&description)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::PermissionTaken(key.as_str().to_owned())))?;
        let def = PermissionDef {
            key: key.clone(),
            description,
            org_id: Some(org),
            created_at: ts(now),
        };
        tx.audit(
            Some(org),
            "permission.created",
            "permission",
            key.as_str(),
            None,
            json(&def),
        );
        tx.commit(self, def).await
    }

    /// The signed-in caller's own effective permissions.
    pub fn own_effective_permissions(
        &self,
        access: &OrgAccess<need::AnyMember>,
        explain: bool,
    ) -> Result<EffectivePermissions> {
        let user = access.actor().user_id().ok_or_else(|| Error::Forbidden {
            needed: "manage_users".to_owned(),
        })?;
        self.effective_of(access.org(), user, explain)
    }

    /// Another member's effective permissions.
    pub fn effective_permissions(
        &self,
        access: &OrgAccess<need::ViewPermissions>,
        user: UserId,
        explain: bool,
    ) -> Result<EffectivePermissions> {
        self.effective_of(access.org(), user, explain)
    }

    fn effective_of(
        &self,
        org: OrgId,
        user: UserId,
        explain: bool,
    ) -> Result<EffectivePermissions> {
        let snap = self.index().load_full();
        let ix = snap.org(org).ok_or(Error::OrgNotFound(org))?;
        if ix.member_status(user).is_none() {
            return Err(Error::MemberNotFound { org, user });
        }
        let effective = ix.effective(user, Scope::Organization);
        let department_scope = (!effective.overrides).then(|| ix.department_scope(user));
        // Keys an owner-like role supplies carry no grant of their own: the
        // decision names the override instead.
        let reasons = explain.then(|| {
            effective
                .permissions
                .iter()
                .map(|(k, rs)| {
                    let rs = if rs.is_empty() {
                        ix.check(user, k, Scope::Organization).reasons
                    } else {
                        rs.clone()
                    };
                    (k.clone(), rs)
                })
                .collect()
        });
        Ok(EffectivePermissions {
            user,
            effective,
            department_scope,
            reasons,
            revision: snap.revision,
            resolved_at: chrono::Utc::now(),
        })
    }
}
