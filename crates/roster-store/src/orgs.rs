//! Organizations: create (with an owner), read, update, soft delete.

use crate::db::{db_err, now_micros, DbKind, Tx};
use crate::rows::*;
use crate::{Ctx, Page, Store, Written};
use roster_core::access::need;
use roster_core::text::{bounded, bounded_opt};
use roster_core::*;
use sqlx::any::AnyRow;

const ORG_COLS: &str =
    "id, name, org_type, description, website, industry, company_size, logo_image, image_url, \
    domains, is_active, owner_id, api_usage_limit, total_usage_limit, created_at, updated_at";

pub const ORG_TYPES: [&str; 3] = ["Work", "Personal", "School"];

fn org_of(row: &AnyRow) -> Result<Organization> {
    let domains: String = str_of(row, "domains")?;
    Ok(Organization {
        id: OrgId(uuid_of(row, "id")?),
        name: str_of(row, "name")?,
        org_type: str_of(row, "org_type")?,
        description: opt_str_of(row, "description")?,
        website: opt_str_of(row, "website")?,
        industry: opt_str_of(row, "industry")?,
        company_size: opt_str_of(row, "company_size")?,
        logo_image: opt_str_of(row, "logo_image")?,
        image_url: opt_str_of(row, "image_url")?,
        domains: serde_json::from_str(&domains).unwrap_or_default(),
        is_active: bool_of(row, "is_active")?,
        owner_id: opt_uuid_of(row, "owner_id")?.map(UserId),
        api_usage_limit: row_f64(row, "api_usage_limit")?,
        total_usage_limit: row_f64(row, "total_usage_limit")?,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

fn row_f64(row: &AnyRow, col: &str) -> Result<f64> {
    use sqlx::Row;
    row.try_get::<f64, _>(col).map_err(db_err)
}

/// Fields of a new organization.
#[derive(Debug, Clone, Default)]
pub struct NewOrg {
    pub name: String,
    pub org_type: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub company_size: Option<String>,
    pub logo_image: Option<String>,
    pub domains: Vec<String>,
    /// The owner; required unless the platform creates an ownerless organization.
    pub owner: Option<UserId>,
    pub external_id: Option<String>,
}

/// A partial update: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub company_size: Option<String>,
    pub logo_image: Option<String>,
    pub image_url: Option<String>,
    pub is_active: Option<bool>,
    pub api_usage_limit: Option<f64>,
    pub domains: Option<Vec<String>>,
}

fn check_type(t: &str) -> Result<String> {
    ORG_TYPES
        .iter()
        .find(|x| x.eq_ignore_ascii_case(t))
        .map(|x| (*x).to_owned())
        .ok_or_else(|| Error::validation("type", "must be one of Work, Personal, School"))
}

/// A new organization's fields after the rules every create applies.
fn checked(input: NewOrg) -> Result<NewOrg> {
    Ok(NewOrg {
        name: bounded("name", &input.name, 1, 255)?,
        org_type: check_type(&input.org_type)?,
        description: bounded_opt("description", input.description.as_deref(), 1000)?,
        website: bounded_opt("website", input.website.as_deref(), 500)?,
        industry: bounded_opt("industry", input.industry.as_deref(), 100)?,
        company_size: bounded_opt("company_size", input.company_size.as_deref(), 50)?,
        ..input
    })
}

/// Writes a checked organization and its owner's Active membership holding
/// Owner inside `tx`: the one way organizations are created.
async fn insert_org(tx: &mut Tx, input: NewOrg) -> Result<Organization> {
    if let Some(owner) = input.owner {
        crate::members::require_user(tx, owner).await?;
    }
    let oid = OrgId::new();
    let now = now_micros();
    sqlx::query(&format!(
        "INSERT INTO organizations ({ORG_COLS}, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, TRUE, $10, 1000.0, 5000.0, $11, $11, $12)"
    ))
    .bind(id(oid))
    .bind(&input.name)
    .bind(&input.org_type)
    .bind(&input.description)
    .bind(&input.website)
    .bind(&input.industry)
    .bind(&input.company_size)
    .bind(&input.logo_image)
    .bind(serde_json::to_string(&input.domains).unwrap_or_else(|_| "[]".into()))
    .bind(input.owner.map(id))
    .bind(now)
    .bind(&input.external_id)
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    if let Some(owner) = input.owner {
        crate::members::insert_membership(
            tx,
            oid,
            owner,
            SystemRole::Owner.id(),
            MemberStatus::Active,
        )
        .await?;
    }
    let org = fetch_org(tx, oid).await?;
    tx.audit(
        Some(oid),
        "organization.created",
        "organization",
        oid,
        None,
        Some(serde_json::json!({"name": input.name})),
    );
    Ok(org)
}

/// Which organizations an actor sees: all for the platform, its own for an
/// organization key, the live memberships of a user. A condition on `o`
/// and the value it binds as `$1`.
fn visible_to(actor: &Actor) -> (&'static str, Option<String>) {
    match actor {
        Actor::Platform => ("", None),
        Actor::OrgKey { org, .. } => (" AND o.id = $1", Some(id(*org))),
        Actor::User { user } => (
            " AND o.id IN (SELECT org_id FROM memberships WHERE user_id = $1 AND deleted_at IS NULL)",
            Some(id(*user)),
        ),
    }
}

/// Makes concurrent upserts of one caller take turns, so the second finds
/// what the first created. SQLite has one writer already. On PostgreSQL a
/// user's row is the natural lock (`NO KEY UPDATE`: memberships referencing
/// the user are not held up by it); the platform has no row and takes a
/// transaction-scoped advisory lock instead. An organization key never
/// creates an organization, so it needs no turn.
async fn lock_caller(tx: &mut Tx, kind: DbKind, actor: &Actor) -> Result<()> {
    if kind != DbKind::Postgres {
        return Ok(());
    }
    match actor {
        Actor::User { user } => {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE")
                .bind(id(*user))
                .fetch_optional(tx.conn())
                .await
                .map_err(db_err)?;
        }
        Actor::Platform => {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PLATFORM_UPSERT_LOCK)
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
        }
        Actor::OrgKey { .. } => {}
    }
    Ok(())
}

/// The advisory lock key of the platform's organization upserts (arbitrary,
/// unique within Roster).
const PLATFORM_UPSERT_LOCK: i64 = 0x526f_7374_6572_0001;

/// The oldest organization visible to `actor` whose name equals `name`
/// trimmed and case-insensitively (compared here, not in SQL: the two
/// databases fold case differently outside ASCII).
async fn find_named(tx: &mut Tx, actor: &Actor, name: &str) -> Result<Option<Organization>> {
    let (filter, bind) = visible_to(actor);
    let sql = format!(
        "SELECT o.id, o.name FROM organizations o WHERE o.deleted_at IS NULL{filter} ORDER BY o.created_at, o.id"
    );
    let mut q = sqlx::query(&sql);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    let key = roster_core::text::name_key(name);
    for row in q.fetch_all(tx.conn()).await.map_err(db_err)? {
        if roster_core::text::name_key(&str_of(&row, "name")?) == key {
            return fetch_org(tx, OrgId(uuid_of(&row, "id")?)).await.map(Some);
        }
    }
    Ok(None)
}

impl Store {
    /// Creates an organization; its owner (if any) becomes an Active member holding Owner.
    pub async fn create_org(&self, ctx: &Ctx, input: NewOrg) -> Result<Written<Organization>> {
        let input = checked(input)?;
        let mut tx = self.begin(ctx).await?;
        let org = insert_org(&mut tx, input).await?;
        tx.commit(self, org).await
    }

    /// The caller's organization named `input.name` (trimmed, case-insensitive;
    /// the oldest if several; every organization for the platform), else a new
    /// one made from `input` as [`Store::create_org`] makes it, owned by the
    /// caller ([`roster_core::access::org_creator`]; `input.owner` is not
    /// read). One transaction, in turns per caller: concurrent upserts of
    /// one name by one caller create one organization. Finding it writes nothing.
    pub async fn upsert_org(&self, ctx: &Ctx, input: NewOrg) -> Result<Written<Organization>> {
        let mut tx = self.begin(ctx).await?;
        lock_caller(&mut tx, self.kind, &ctx.actor).await?;
        if let Some(org) = find_named(&mut tx, &ctx.actor, &input.name).await? {
            return tx.finish_read(self, org).await;
        }
        // The right to create comes before the new organization's fields.
        let owner = roster_core::access::org_creator(&ctx.actor)?;
        let input = checked(NewOrg { owner, ..input })?;
        let org = insert_org(&mut tx, input).await?;
        tx.commit(self, org).await
    }

    pub async fn get_org(&self, access: &OrgAccess<need::AnyMember>) -> Result<Organization> {
        let row = sqlx::query(&format!(
            "SELECT {ORG_COLS} FROM organizations WHERE id = $1 AND deleted_at IS NULL"
        ))
        .bind(id(access.org()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::OrgNotFound(access.org()))?;
        org_of(&row)
    }

    /// The organizations the actor can see: all for the platform, its own for
    /// an organization key, the memberships of a user.
    pub async fn list_orgs(
        &self,
        actor: &Actor,
        skip: i64,
        limit: i64,
        active_only: bool,
    ) -> Result<Page<Organization>> {
        let active = if active_only {
            " AND o.is_active = TRUE"
        } else {
            ""
        };
        let (filter, bind) = visible_to(actor);
        let wher = format!("WHERE o.deleted_at IS NULL{active}{filter}");
        let n = if bind.is_some() { 2 } else { 1 };
        let list_sql = format!(
            "SELECT {} FROM organizations o {wher} ORDER BY o.created_at, o.id LIMIT ${} OFFSET ${}",
            ORG_COLS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", "),
            n,
            n + 1
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM organizations o {wher}");
        let mut q = sqlx::query(&list_sql);
        let mut c = sqlx::query(&count_sql);
        if let Some(b) = &bind {
            q = q.bind(b.clone());
            c = c.bind(b.clone());
        }
        let rows = q
            .bind(limit)
            .bind(skip)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let total = i64_of(&c.fetch_one(&self.pool).await.map_err(db_err)?, "n")?;
        Ok(Page {
            items: rows.iter().map(org_of).collect::<Result<_>>()?,
            total,
        })
    }

    pub async fn update_org(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        patch: OrgPatch,
    ) -> Result<Written<Organization>> {
        let name = patch
            .name
            .as_deref()
            .map(|n| bounded("name", n, 1, 255))
            .transpose()?;
        let description = bounded_opt("description", patch.description.as_deref(), 1000)?;
        let website = bounded_opt("website", patch.website.as_deref(), 500)?;
        let industry = bounded_opt("industry", patch.industry.as_deref(), 100)?;
        let company_size = bounded_opt("company_size", patch.company_size.as_deref(), 50)?;
        if patch
            .api_usage_limit
            .is_some_and(|v| !(0.0..=1e12).contains(&v))
        {
            return Err(Error::validation(
                "api_usage_limit",
                "must be between 0 and 10^12",
            ));
        }
        let mut tx = self.begin(ctx).await?;
        let before = fetch_org(&mut tx, access.org()).await?;
        sqlx::query(
            "UPDATE organizations SET name = COALESCE($1, name), description = COALESCE($2, description), \
             website = COALESCE($3, website), industry = COALESCE($4, industry), company_size = COALESCE($5, company_size), \
             logo_image = COALESCE($6, logo_image), image_url = COALESCE($7, image_url), is_active = COALESCE($8, is_active), \
             api_usage_limit = COALESCE($9, api_usage_limit), domains = COALESCE($10, domains), updated_at = $11 WHERE id = $12",
        )
        .bind(name)
        .bind(description)
        .bind(website)
        .bind(industry)
        .bind(company_size)
        .bind(patch.logo_image)
        .bind(patch.image_url)
        .bind(patch.is_active)
        .bind(patch.api_usage_limit)
        .bind(patch.domains.map(|d| serde_json::to_string(&d).unwrap_or_else(|_| "[]".into())))
        .bind(now_micros())
        .bind(id(access.org()))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_org(&mut tx, access.org()).await?;
        tx.audit(
            Some(access.org()),
            "organization.updated",
            "organization",
            access.org(),
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Soft-deletes the organization: it disappears from every API and the index.
    pub async fn delete_org(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Owner>,
    ) -> Result<Written<()>> {
        let mut tx = self.begin(ctx).await?;
        sqlx::query("UPDATE organizations SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now_micros())
            .bind(id(access.org()))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.audit(
            Some(access.org()),
            "organization.deleted",
            "organization",
            access.org(),
            None,
            None,
        );
        tx.remove_org(access.org());
        tx.commit(self, ()).await
    }
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

pub(crate) async fn fetch_org(tx: &mut Tx, org: OrgId) -> Result<Organization> {
    let row = sqlx::query(&format!(
        "SELECT {ORG_COLS} FROM organizations WHERE id = $1 AND deleted_at IS NULL"
    ))
    .bind(id(org))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?
    .ok_or(Error::OrgNotFound(org))?;
    org_of(&row)
}
