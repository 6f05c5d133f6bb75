"""VIL016 needs-credentials: anonymous pulls are refused and no pattern covers the image.

## What it does
Online (`--online`, or the cache with `--offline`): reports an image whose registry refused
anonymous access (401 or 403 after the token exchange) when no `private-registries` pattern
covers the image as written. Valohai attaches the organization's registry credentials only
to images matching one of its Registries patterns; any other image is pulled anonymously.

With credentials in your Docker configuration (`docker login`, `az acr login`, credential
helpers for ECR, GCR and ACR, identity tokens) the lookup itself works; the linter then asks
once more without them, and the message says that your credentials worked but Valohai needs a
pattern. Docker Hub also answers "unauthorized" for a repository that does not exist.

## Why is this bad?
The execution fails with an authorization error when the worker pulls, after it has started.

## Example
```yaml
- step:
    name: train
    image: myregistry.azurecr.io/train:1.0
    command: python train.py
```

## Use instead
```yaml
- step:
    name: train
    image: myregistry.azurecr.io/train:1.0
    command: python train.py
```

With the organization's Registries (and this linter's configuration) covering it:

## Options
- `private-registries`: the organization's Registries patterns, as written in Valohai.

```toml
private-registries = ["myregistry.azurecr.io/*"]
```

## Fix
None: add a pattern such as `docker.io/myorg/*` or `myregistry.azurecr.io/*` under the
organization's Registries in Valohai, with credentials, and to `private-registries`.
"""

from __future__ import annotations

from valohai_image_lint.diagnostic import Severity
from valohai_image_lint.reference import ImageReference
from valohai_image_lint.rules import CheckedSite, Rule, RuleContext
from valohai_image_lint.rules._checks import verdict
from valohai_image_lint.rules._patterns import any_pattern_matches

HELP = ("add `{pattern}` with credentials under the organization's Registries in Valohai,"
        " and to private-registries")


def suggested_pattern(ref: ImageReference) -> str:
    """``docker.io/myorg/*`` for Docker Hub, ``myregistry.azurecr.io/*`` elsewhere."""
    if ref.domain == "docker.io":
        owner = ref.familiar_name.split("/", 1)[0] if "/" in ref.familiar_name else "library"
        return f"docker.io/{owner}/*"
    return f"{ref.domain}/*"


def advice(ref: ImageReference) -> str:
    return HELP.format(pattern=suggested_pattern(ref))


class NeedsCredentials(Rule):
    code = "VIL016"
    name = "needs-credentials"
    needs_online = True
    severity = Severity.WARNING
    summary = "The registry refuses anonymous pulls and no pattern covers the image"

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        found = verdict(site, ctx)
        ref = site.reference
        if found is None or found.anonymous_denied is not True or ref is None or (
                site.image is None):
            return
        if any_pattern_matches(ctx.config.private_registries, site.image):
            return
        name = ref.familiar_name
        if found.with_credentials:
            message = f"{name} pulls only with your credentials; Valohai has none"
        elif ref.domain == "docker.io":
            # Docker Hub says "unauthorized" for a repository that does not exist, too.
            message = f"{name} is private or does not exist; Valohai has no credentials"
        else:
            message = f"{name} refuses anonymous pulls; Valohai has no credentials"
        ctx.report(self, site, message, help=advice(ref))
