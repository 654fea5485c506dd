"""FHIR R4 for health systems: a ServiceRequest about a Patient becomes a referral.

This module is the mapping and its errors (no HTTP; see ``fhir_routes``).

FHIR version
    fhir.resources 8 ships R5 (its default) and R4B (4.3.0) models, and no R4 (4.0.1)
    ones. The resources read here (ServiceRequest, Patient, Practitioner,
    PractitionerRole, Organization, Condition, Bundle) did not change between R4 and R4B,
    so R4 documents are validated with the R4B models; the CapabilityStatement says
    ``fhirVersion 4.0.1`` because R4 is what health systems send (UK Core, the Booking and
    Referral Standard). fhir.resources checks structure and datatypes but not value-set
    bindings, so the codes we act on (``Bundle.type``, ``ServiceRequest.status`` and
    ``priority``, ``Patient.gender``) are checked here.

What may be posted
    * a ServiceRequest whose ``subject`` is a Patient contained in it (``"#id"``); or
    * a Bundle of ``type`` collection or transaction holding exactly one ServiceRequest.
      Its references (subject, requester, reasonReference) are resolved against the
      entries: a reference equal to an entry's ``fullUrl`` (``urn:uuid:...`` or a URL),
      or a relative ``Type/id`` matching a ``fullUrl`` ending in ``/Type/id`` or an entry
      whose resource is that type with that id; ``"#id"`` is resolved in the referring
      resource's container. Other entries are ignored (a BaRS message Bundle, say, may
      be sent as a collection with its MessageHeader, Encounter and Organizations).

Mapping to ``ReferralCreate`` (``kind`` is always ``referral``)
    subject Patient (one subject, ``role`` child; the hub does not check age):
        ``identifier`` with system ``https://fhir.nhs.uk/Id/nhs-number`` -> ``nhs_number``;
        ``name``: the official one, else usual, else the first not marked old -> ``given``
        (joined with spaces) and ``family``; a name with only ``text`` is split at its
        last space; other names -> ``other_names``; ``birthDate`` (a full date; a
        partial one is refused) -> ``date_of_birth``; ``gender`` female/male -> F/M,
        other/unknown -> U; the first ``address`` not marked old: ``line[0]`` -> line1,
        further lines -> line2, ``city`` -> town, ``postalCode`` -> postcode (``text``
        -> line1 when there are no lines).
    referrer: ``requester`` resolved to a Practitioner (its name; the role from a
        PractitionerRole in the request that points at it), a PractitionerRole (its
        practitioner's name, its ``code``), an Organization (its name, role
        "Organisation") or a RelatedPerson, else ``requester.display``; the role defaults
        to "Health professional". The first phone and e-mail in their ``telecom`` that
        fit the referral API's formats are kept; others are left out rather than refusing
        the referral over a phone-number format.
    summary: ``reasonCode`` (text, else the codings' displays), ``reasonReference``
        (display, else the referenced resource's code) and ``note`` texts, one a line.
    concerns: ``reasonCode`` codings with system ``CIN_FACTOR_SYSTEM`` (below) and a CIN
        census assessment factor code (``services.referral.codes.CONCERNS``); none ->
        ``["20"]`` (Other).
    source: a ``category`` coding with system ``CIN_SOURCE_SYSTEM`` and a CIN census
        referral source code, else ``3F`` (other health services).
    immediate_risk: ``priority`` urgent, asap or stat.
    consent: the extension ``CONSENT_EXTENSION`` on the ServiceRequest with
        sub-extensions ``status`` (valueCode given | not_given | not_sought) and
        ``reason`` (valueString); without it, status ``not_sought`` with reason "not
        recorded by the sending system" (FHIR has no consent element on ServiceRequest,
        and we record what we were told rather than assume consent).
    external_reference: ``identifier[0].value``.
    A ServiceRequest whose status is draft, revoked or entered-in-error, or with
    ``doNotPerform`` true, is refused: it is not a request to act on.

Answers
    201 with ``Location: /api/v1/referrals/{id}`` and the posted ServiceRequest echoed
    with ``id`` set to the referral's id, ``meta.lastUpdated`` to when it was received and
    an identifier (system ``REFERENCE_SYSTEM``) holding the hub's reference (MASH-...).
    ``Prefer: return=minimal`` gives no body; ``Prefer: return=OperationOutcome`` an
    OperationOutcome of severity information naming the reference.
    Errors are OperationOutcomes. 400: not JSON, not valid FHIR, or a shape we do not
    take (wrong resource or Bundle type). 422: valid FHIR that fails the referral rules
    (no resolvable subject Patient, a wrong NHS number check digit, ...). Each issue's
    ``expression`` names the element as a FHIRPath relative to its resource (e.g.
    ``Patient.identifier[0].value``) and, when the resource sits inside the posted
    document, the full path too (``Bundle.entry[3].resource.identifier[0].value``).
"""
