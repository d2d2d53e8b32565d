//! The RFC 7643 schema definitions for core User (§4.1), core Group (§4.2) and EnterpriseUser (§4.3), as data.
//!
//! Every characteristic (type, multiValued, required, caseExact, mutability, returned, uniqueness,
//! canonicalValues, referenceTypes) follows the normative representation in RFC 7643 §8.7.1, with the
//! deliberate departures listed here (each is also noted at its definition):
//! - Group `displayName` is `required` (as §4.2 says, where §8.7.1 says `false`) and `uniqueness: server`,
//!   because this server keeps group names unique per tenant (DESIGN.md, storage).
//! - Group `members` also defines `display` (a §2.4 default sub-attribute, absent from §8.7.1) as
//!   `readOnly`: storage derives it from the member, clients cannot set it.
//! - `addresses` defines `primary` (§4.1.2 lists it; the §8.7.1 listing omits it).
//! - `reference` and `binary` values are `caseExact: true` (§2.3.6, §2.3.7).
//!
//! The builder helpers keep the definitions close to the RFC tables: `string("title").describe("…")`.

use super::{
    AttributeDef, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Returned, Schema,
    USER_SCHEMA, Uniqueness,
};

/// An attribute with the RFC 7643 §7 defaults: single-valued, optional, not caseExact, readWrite,
/// returned by default, no uniqueness.
fn attr(name: &str, attr_type: AttributeType) -> AttributeDef {
    AttributeDef {
        name: name.to_owned(),
        attr_type,
        multi_valued: false,
        description: String::new(),
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: Vec::new(),
        reference_types: Vec::new(),
        sub_attributes: Vec::new(),
    }
}

fn string(name: &str) -> AttributeDef {
    attr(name, AttributeType::String)
}

fn boolean(name: &str) -> AttributeDef {
    attr(name, AttributeType::Boolean)
}

/// A reference (RFC 7643 §2.3.7): case exact, with the resource types it may point at.
fn reference(name: &str, types: &[&str]) -> AttributeDef {
    AttributeDef {
        case_exact: true,
        reference_types: types.iter().map(|t| (*t).to_owned()).collect(),
        ..attr(name, AttributeType::Reference)
    }
}

fn complex(name: &str, subs: Vec<AttributeDef>) -> AttributeDef {
    AttributeDef {
        sub_attributes: subs,
        ..attr(name, AttributeType::Complex)
    }
}

/// Chainable modifiers, so each definition reads as one line of the RFC table.
impl AttributeDef {
    fn describe(mut self, text: &str) -> Self {
        text.clone_into(&mut self.description);
        self
    }

    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }

    fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }

    fn unique(mut self, uniqueness: Uniqueness) -> Self {
        self.uniqueness = uniqueness;
        self
    }

    fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Applies the mutability to this attribute and all its sub-attributes.
    fn all_mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        for sub in &mut self.sub_attributes {
            sub.mutability = mutability;
        }
        self
    }
}

/// The four sub-attributes every §4.1.2 multi-valued attribute has: `value`, `display`, `type`, `primary`.
fn multi_valued(name: &str, what: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    complex(
        name,
        vec![
            value.describe(&format!("The {what} value.")),
            string("display").describe(&format!(
                "A human-readable name for the {what}, for display only."
            )),
            string("type")
                .canonical(types)
                .describe(&format!("A label indicating the {what}'s function.")),
            boolean("primary").describe(&format!(
                "Whether this is the primary {what}; at most one value may be primary."
            )),
        ],
    )
    .multi()
}

/// Core User (RFC 7643 §4.1, §8.7.1).
pub fn user_schema() -> Schema {
    let read_only = Mutability::ReadOnly;
    Schema {
        id: USER_SCHEMA.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            string("userName")
                .required()
                .unique(Uniqueness::Server)
                .describe("Unique identifier for the User, typically used to sign in. Required."),
            complex(
                "name",
                vec![
                    string("formatted").describe("The full name, formatted for display."),
                    string("familyName").describe("The family name, or last name."),
                    string("givenName").describe("The given name, or first name."),
                    string("middleName").describe("The middle name(s)."),
                    string("honorificPrefix").describe("The honorific prefix(es), e.g. 'Ms.'."),
                    string("honorificSuffix").describe("The honorific suffix(es), e.g. 'III'."),
                ],
            )
            .describe("The components of the user's real name."),
            string("displayName").describe("The name of the User, suitable for display to end-users."),
            string("nickName").describe("The casual way to address the user."),
            reference("profileUrl", &["external"])
                .describe("A fully qualified URL to the User's online profile."),
            string("title").describe("The user's title, such as 'Vice President'."),
            string("userType").describe("The organization-to-user relationship, e.g. 'Employee'."),
            string("preferredLanguage")
                .describe("The preferred written or spoken language (RFC 7231 Accept-Language)."),
            string("locale")
                .describe("The default location, for localizing items such as currency and dates."),
            string("timezone").describe("The time zone, in IANA Time Zone database format."),
            boolean("active").describe("The User's administrative status."),
            string("password")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never)
                .describe("The User's cleartext password. Write-only, never returned."),
            multi_valued(
                "emails",
                "email address",
                string("value"),
                &["work", "home", "other"],
            )
            .describe("Email addresses for the user."),
            multi_valued(
                "phoneNumbers",
                "phone number",
                string("value"),
                &["work", "home", "mobile", "fax", "pager", "other"],
            )
            .describe("Phone numbers for the User."),
            multi_valued(
                "ims",
                "instant messaging address",
                string("value"),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            )
            .describe("Instant messaging addresses for the User."),
            multi_valued(
                "photos",
                "photo",
                reference("value", &["external"]),
                &["photo", "thumbnail"],
            )
            .describe("URLs of photos of the User."),
            complex(
                "addresses",
                vec![
                    string("formatted").describe("The full mailing address, formatted for display."),
                    string("streetAddress").describe("The full street address component."),
                    string("locality").describe("The city or locality component."),
                    string("region").describe("The state or region component."),
                    string("postalCode").describe("The zip code or postal code component."),
                    string("country").describe("The country name component (ISO 3166-1 alpha-2)."),
                    string("type")
                        .canonical(&["work", "home", "other"])
                        .describe("A label indicating the address's function."),
                    // §4.1.2 lists `primary` for addresses; the §8.7.1 listing omits it.
                    boolean("primary").describe("Whether this is the primary address."),
                ],
            )
            .multi()
            .describe("A physical mailing address for this User."),
            complex(
                "groups",
                vec![
                    string("value").describe("The identifier of the User's group."),
                    reference("$ref", &["User", "Group"])
                        .describe("The URI of the corresponding 'Group' resource."),
                    string("display").describe("A human-readable name, primarily used for display purposes."),
                    string("type")
                        .canonical(&["direct", "indirect"])
                        .describe("How the membership came about: 'direct' or 'indirect'."),
                ],
            )
            .multi()
            .all_mutability(read_only)
            .describe("The groups the user belongs to. Read-only; managed through the Group resource."),
            multi_valued("entitlements", "entitlement", string("value"), &[])
                .describe("Entitlements for the User."),
            multi_valued("roles", "role", string("value"), &[]).describe("Roles for the User."),
            multi_valued(
                "x509Certificates",
                "X.509 certificate",
                attr("value", AttributeType::Binary).case_exact(),
                &[],
            )
            .describe("DER-encoded X.509 certificates issued to the User."),
        ],
    }
}

/// Core Group (RFC 7643 §4.2, §8.7.1).
pub fn group_schema() -> Schema {
    Schema {
        id: GROUP_SCHEMA.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            // §8.7.1 says required false and uniqueness none; §4.2 says REQUIRED, and this server keeps
            // group names unique per tenant.
            string("displayName")
                .required()
                .unique(Uniqueness::Server)
                .describe("A human-readable name for the Group. Required."),
            complex(
                "members",
                vec![
                    string("value")
                        .mutability(Mutability::Immutable)
                        .describe("Identifier of the member of this Group."),
                    reference("$ref", &["User", "Group"])
                        .mutability(Mutability::Immutable)
                        .describe("The URI corresponding to a SCIM resource that is a member of this Group."),
                    // Not in §8.7.1; a §2.4 default sub-attribute that clients send. Derived by the server.
                    string("display")
                        .mutability(Mutability::ReadOnly)
                        .describe("A human-readable name of the member, derived by the server."),
                    string("type")
                        .canonical(&["User", "Group"])
                        .mutability(Mutability::Immutable)
                        .describe("The type of the member: 'User' or 'Group'."),
                ],
            )
            .multi()
            .describe("A list of members of the Group."),
        ],
    }
}

/// Enterprise User extension (RFC 7643 §4.3, §8.7.1).
pub fn enterprise_user_schema() -> Schema {
    Schema {
        id: ENTERPRISE_USER_SCHEMA.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            string("employeeNumber").describe("Numeric or alphanumeric identifier assigned to a person."),
            string("costCenter").describe("Identifies the name of a cost center."),
            string("organization").describe("Identifies the name of an organization."),
            string("division").describe("Identifies the name of a division."),
            string("department").describe("Identifies the name of a department."),
            complex(
                "manager",
                vec![
                    string("value").describe("The id of the SCIM resource representing the User's manager."),
                    reference("$ref", &["User"])
                        .describe("The URI of the SCIM resource representing the User's manager."),
                    string("displayName")
                        .mutability(Mutability::ReadOnly)
                        .describe("The displayName of the User's manager. Read-only."),
                ],
            )
            .describe("The User's manager."),
        ],
    }
}

/// The common attributes of RFC 7643 §3.1, kept in a pseudo-schema so paths like `meta.lastModified`
/// resolve like any other attribute. Never rendered under `/Schemas`.
pub fn common_attributes() -> Schema {
    let read_only = |def: AttributeDef| def.mutability(Mutability::ReadOnly);
    Schema {
        id: "urn:ietf:params:scim:schemas:common".to_owned(),
        name: String::new(),
        description: String::new(),
        attributes: vec![
            read_only(string("id"))
                .case_exact()
                .returned(Returned::Always)
                .unique(Uniqueness::Server),
            string("externalId").case_exact(),
            read_only(complex(
                "meta",
                vec![
                    read_only(string("resourceType")).case_exact(),
                    read_only(attr("created", AttributeType::DateTime)),
                    read_only(attr("lastModified", AttributeType::DateTime)),
                    read_only(attr("location", AttributeType::Reference)).case_exact(),
                    read_only(string("version")).case_exact(),
                ],
            )),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(schema: &'a Schema, name: &str) -> &'a AttributeDef {
        schema.attribute(name).unwrap()
    }

    #[test]
    fn user_schema_has_every_rfc_attribute() {
        let user = user_schema();
        let names: Vec<&str> = user.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates",
            ]
        );
        let user_name = find(&user, "userName");
        assert!(user_name.required && !user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        let password = find(&user, "password");
        assert_eq!(
            (password.mutability, password.returned),
            (Mutability::WriteOnly, Returned::Never)
        );
        assert_eq!(find(&user, "name").sub_attributes.len(), 6);
        assert_eq!(find(&user, "addresses").sub_attributes.len(), 8);
        assert_eq!(find(&user, "profileUrl").reference_types, ["external"]);
    }

    #[test]
    fn user_groups_are_read_only_down_to_their_sub_attributes() {
        let groups = find(&user_schema(), "groups").clone();
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(groups.multi_valued);
        assert!(
            groups
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
        assert_eq!(
            groups.sub_attribute("$REF").unwrap().reference_types,
            ["User", "Group"]
        );
    }

    #[test]
    fn multi_valued_attributes_carry_type_canonical_values() {
        let user = user_schema();
        let email_type = find(&user, "emails").sub_attribute("type").unwrap().clone();
        assert_eq!(email_type.canonical_values, ["work", "home", "other"]);
        let phone_type = find(&user, "phoneNumbers").sub_attribute("type").unwrap().clone();
        assert!(phone_type.canonical_values.iter().any(|v| v == "mobile"));
        let photo = find(&user, "photos").sub_attribute("value").unwrap().clone();
        assert_eq!(photo.attr_type, AttributeType::Reference);
    }

    #[test]
    fn group_members_sub_attributes_are_immutable_and_display_is_read_only() {
        let group = group_schema();
        let display_name = find(&group, "displayName");
        assert!(display_name.required);
        let members = find(&group, "members");
        assert!(members.multi_valued);
        assert_eq!(members.mutability, Mutability::ReadWrite);
        for sub in ["value", "$ref", "type"] {
            assert_eq!(
                members.sub_attribute(sub).unwrap().mutability,
                Mutability::Immutable,
                "{sub}"
            );
        }
        assert_eq!(
            members.sub_attribute("display").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(
            members.sub_attribute("type").unwrap().canonical_values,
            ["User", "Group"]
        );
    }

    #[test]
    fn enterprise_manager_display_name_is_read_only() {
        let ent = enterprise_user_schema();
        for name in [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
        ] {
            assert_eq!(find(&ent, name).attr_type, AttributeType::String, "{name}");
        }
        let manager = find(&ent, "manager");
        assert_eq!(
            manager.sub_attribute("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(manager.sub_attribute("$ref").unwrap().reference_types, ["User"]);
    }
}
