//! Resolve: the UserId an event names, to the user IAM knows by that id now.

use tracing::{info, warn};

use super::outcome::{RemediationError, error_chain};
use crate::aws::accounts::AccountClients;
use crate::aws::{IamDirectory, IamUser, UserInventory};
use crate::domain::ids::UserId;

/// Asks Config first (one call), confirms with IAM, and falls back to IAM's ListUsers scan.
/// `None` when no user has this UserId any more.
pub async fn resolve<I: IamDirectory, C: UserInventory>(
    at: &AccountClients<I, C>,
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
