"""The CapabilityStatement: what this FHIR endpoint accepts."""

from __future__ import annotations

from services.referral.fhir.document import FHIR_VERSION, JSON


def capability_statement(base_url: str, token_endpoint: str) -> JSON:
    """What the hub's FHIR endpoint does: create ServiceRequest, with OAuth2 tokens."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "MASH referral hub",
        "kind": "instance",
        "software": {"name": "MASH referral hub", "version": "0.1.0"},
        "implementation": {
            "description": "Multi-Agency Safeguarding Hub: referrals about children at risk",
            "url": f"{base_url.rstrip('/')}/fhir/r4",
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "Health systems refer a child to the hub by creating a "
                             "ServiceRequest whose subject is a Patient contained in it, or "
                             "by posting a Bundle (collection or transaction) holding the "
                             "ServiceRequest and its Patient.",
            "security": {
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/"
                                  "restful-security-service",
                        "code": "OAuth",
                        "display": "OAuth",
                    }],
                    "text": "OAuth2 client credentials",
                }],
                "description": "Bearer access tokens from the token endpoint "
                               f"{token_endpoint} (client credentials grant; client "
                               "authentication by private_key_jwt or client_secret_basic).",
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                           "oauth-uris",
                    "extension": [{"url": "token", "valueUri": token_endpoint}],
                }],
            },
            "resource": [{
                "type": "ServiceRequest",
                "interaction": [{
                    "code": "create",
                    "documentation": "201 with Location /api/v1/referrals/{id}; errors are "
                                     "OperationOutcomes (400 invalid FHIR, 422 a referral "
                                     "rule broken).",
                }],
            }],
        }],
    }
