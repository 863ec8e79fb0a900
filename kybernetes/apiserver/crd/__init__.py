"""CustomResourceDefinitions (apiextensions.k8s.io/v1), served by the API server itself.

`install(api)` connects the pieces: the controller that turns accepted CRDs into served resources (`controller`),
CRD defaulting and validation (`definition`, `schema_rules`), the per-version structural schema applied to custom
resources (`structural` for pruning and defaulting, `validator` for upstream-worded validation), the request hooks
(`hooks`) and the OpenAPI documents kubectl needs for create/apply/explain (`openapi`).
"""

from __future__ import annotations

from kybernetes.apiserver.crd.hooks import install

__all__ = ["install"]
