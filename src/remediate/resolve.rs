//! Resolve: the UserId an event names, to the user IAM knows by that id now.

use tracing::{info, warn};

use super::outcome::{RemediationError, error_chain};
use crate::aws::accounts::AccountClients;
use crate::aws::{IamDirectory, IamUser, UserInventory};
use crate::domain::ids::UserId;
use crate::triggers::UserRef;

/// Asks Config first (one call), confirms with IAM, and falls back to IAM's ListUsers scan.
/// `None` when no user has this UserId any more.
pub async fn resolve<I: IamDirectory, C: UserInventory, F>(
    at: &AccountClients<I, C, F>,
    user_id: &UserId,
) -> Result<Option<IamUser>, RemediationError> {
    let resolve_error = |source| RemediationError::Resolve {
        user_id: user_id.clone(),
        source,
    };
    match at.inventory.user_name_for_id(user_id).await {
        Ok(Some(name)) => {
            // Config's record can lag a rename, or a user deleted and re-created under
            // the same name: IAM must confirm the name still belongs to this UserId.
            let current = at.iam.get_user(&name).await.map_err(resolve_error)?;
            if let Some(user) = current.filter(|user| user.user_id == *user_id) {
                return Ok(Some(user));
            }
            info!(%user_id, config_name = %name, "Config's name no longer matches; scanning IAM");
        }
        Ok(None) => info!(%user_id, "Config has no record of the user; scanning IAM"),
        Err(error) => warn!(
            %user_id,
            error = %error_chain(&error),
            "Config lookup failed; scanning IAM"
        ),
    }
    at.iam.find_user_by_id(user_id).await.map_err(resolve_error)
}

/// The user an event names, by UserId or by name. A name is taken as IAM has it now, unless
/// the event also gave a UserId that the name's holder does not have: then the user is found
/// by UserId (renamed since), or is gone.
pub async fn resolve_ref<I: IamDirectory, C: UserInventory, F>(
    at: &AccountClients<I, C, F>,
    user: &UserRef,
) -> Result<Option<IamUser>, RemediationError> {
    let (user_name, user_id) = match user {
        UserRef::Id(user_id) => return resolve(at, user_id).await,
        UserRef::Name { user_name, user_id } => (user_name, user_id),
    };
    let current = at
        .iam
        .get_user(user_name)
        .await
        .map_err(|source| RemediationError::Read {
            user_name: user_name.clone(),
            source,
        })?;
    match (current, user_id) {
        (Some(found), Some(id)) if found.user_id != *id => resolve(at, id).await,
        (None, Some(id)) => resolve(at, id).await,
        (found, _) => Ok(found),
    }
}
