//! A user's default organization: the one a client works in when it names
//! none. Chosen explicitly, else the oldest organization the user belongs to.

use crate::db::{db_err, now_micros};
use crate::orgs::fetch_org;
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::*;

/// Live organizations in which `user` has a live membership, oldest membership first.
const USER_ORGS: &str =
    "SELECT m.org_id FROM memberships m JOIN organizations o ON o.id = m.org_id \
    WHERE m.user_id = $1 AND m.deleted_at IS NULL AND o.deleted_at IS NULL";

impl Store {
    /// Makes the organization of `access` the signed-in caller's default.
    /// Only users have one: API keys belong to a single organization, and the
    /// platform key to none.
    pub async fn set_default_org(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AnyMember>,
    ) -> Result<Written<Organization>> {
        let org = access.org();
        let user = access.actor().user_id().ok_or_else(|| {
            Error::validation(
                "organization_id",
                "only a signed-in user has a default organization",
            )
        })?;
        let mut tx = self.begin(ctx).await?;
        sqlx::query("DELETE FROM user_default_orgs WHERE user_id = $1")
            .bind(id(user))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO user_default_orgs (user_id, org_id, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(id(user))
        .bind(id(org))
        .bind(now_micros())
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let o = fetch_org(&mut tx, org).await?;
        tx.audit(
            Some(org),
            "user.default_organization_set",
            "user",
            user,
            None,
            Some(serde_json::json!({"organization_id": org.to_string()})),
        );
        tx.commit(self, o).await
    }

    /// The caller's default organization: a user's chosen one while they
    /// still belong to it, else their oldest membership; an organization
    /// key's own organization; none for the platform key.
    pub async fn default_org(&self, actor: &Actor) -> Result<Option<OrgId>> {
        let user = match actor {
            Actor::Platform => return Ok(None),
            Actor::OrgKey { org, .. } => {
                return Ok(self.index().load().org(*org).is_some().then_some(*org))
            }
            Actor::User { user } => *user,
        };
        let chosen = sqlx::query(&format!(
            "{USER_ORGS} AND m.org_id = (SELECT d.org_id FROM user_default_orgs d WHERE d.user_id = $1)"
        ))
        .bind(id(user))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let row = match chosen {
            Some(row) => Some(row),
            None => sqlx::query(&format!(
                "{USER_ORGS} ORDER BY m.joined_at, m.org_id LIMIT 1"
            ))
            .bind(id(user))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?,
        };
        row.map(|r| uuid_of(&r, "org_id").map(OrgId)).transpose()
    }
}
