"""Value types of the Azure config keys: resource ids and names.

Each is an annotated ``str`` whose error says what is allowed.
"""

from __future__ import annotations

from typing import Annotated

from ...settings import matching

_SUB = r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}/providers"

ResourceGroupName = Annotated[
    str,
    matching(r"[-\w.()]{0,89}[-\w()]", "a resource group name such as rg-aragora-prod"),
]
Location = Annotated[str, matching(r"[a-z][a-z0-9]{2,29}", "an Azure region such as eastus2")]
SubnetId = Annotated[
    str,
    matching(
        _SUB + r"/Microsoft\.Network/virtualNetworks/[-\w.]+/subnets/[-\w.]+",
        "a subnet id such as /subscriptions/<id>/resourceGroups/<rg>/providers"
        "/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>",
    ),
]
ActionGroupId = Annotated[
    str,
    matching(
        _SUB + r"/(?i:microsoft\.insights)/actionGroups/[-\w.]+",
        "an action group id such as /subscriptions/<id>/resourceGroups/<rg>/providers"
        "/microsoft.insights/actionGroups/<name>",
    ),
]
StorageAccountId = Annotated[
    str,
    matching(
        _SUB + r"/Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}",
        "a storage account id such as /subscriptions/<id>/resourceGroups/<rg>/providers"
        "/Microsoft.Storage/storageAccounts/<name>",
    ),
]
PrivateDnsZoneId = Annotated[
    str,
    matching(
        _SUB + r"/(?i:microsoft\.network/privateDnsZones)/[-\w.]+",
        "a private DNS zone id such as /subscriptions/<id>/resourceGroups/<rg>/providers"
        "/Microsoft.Network/privateDnsZones/<zone>",
    ),
]
KeyVaultName = Annotated[
    str,
    matching(r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", "a Key Vault name (3-24 chars)"),
]
AzureName = Annotated[
    str, matching(r"[a-zA-Z0-9-]{1,127}", "letters, digits and hyphens (a Key Vault secret name)")
]


def virtual_network_id(subnet_id: str) -> str:
    """The id of the virtual network that holds ``subnet_id``."""
    return subnet_id.rsplit("/subnets/", 1)[0]
