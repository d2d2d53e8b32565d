//! The RFC 7643 §8.7 schema definitions for core User, Group and EnterpriseUser, as data.

use super::{
    AttributeDef, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Returned, Schema,
    USER_SCHEMA, Uniqueness,
};

/// Builder shorthand so the definitions below read like the RFC tables.
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

fn complex(name: &str, subs: Vec<AttributeDef>) -> AttributeDef {
    AttributeDef {
        sub_attributes: subs,
        ..attr(name, AttributeType::Complex)
    }
}

fn multi(mut def: AttributeDef) -> AttributeDef {
    def.multi_valued = true;
    def
}

/// Core User (RFC 7643 §4.1).
pub fn user_schema() -> Schema {
    Schema {
        id: USER_SCHEMA.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            AttributeDef {
                required: true,
                uniqueness: Uniqueness::Server,
                ..string("userName")
            },
            complex(
                "name",
                vec![string("formatted"), string("familyName"), string("givenName")],
            ),
            string("displayName"),
            attr("active", AttributeType::Boolean),
            multi(complex(
                "emails",
                vec![
                    string("value"),
                    string("type"),
                    attr("primary", AttributeType::Boolean),
                ],
            )),
        ],
    }
}

/// Core Group (RFC 7643 §4.2).
pub fn group_schema() -> Schema {
    Schema {
        id: GROUP_SCHEMA.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            AttributeDef {
                required: true,
                ..string("displayName")
            },
            multi(complex(
                "members",
                vec![
                    AttributeDef {
                        mutability: Mutability::Immutable,
                        ..string("value")
                    },
                    AttributeDef {
                        mutability: Mutability::Immutable,
                        ..attr("$ref", AttributeType::Reference)
                    },
                    AttributeDef {
                        mutability: Mutability::Immutable,
                        ..string("type")
                    },
                ],
            )),
        ],
    }
}

/// Enterprise User extension (RFC 7643 §4.3).
pub fn enterprise_user_schema() -> Schema {
    Schema {
        id: ENTERPRISE_USER_SCHEMA.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![string("employeeNumber"), string("department")],
    }
}

/// The common attributes of RFC 7643 §3.1, kept in a pseudo-schema so paths like `meta.lastModified`
/// resolve like any other attribute. Never rendered under `/Schemas`.
pub fn common_attributes() -> Schema {
    let read_only = |def: AttributeDef| AttributeDef {
        mutability: Mutability::ReadOnly,
        ..def
    };
    Schema {
        id: "urn:ietf:params:scim:schemas:common".to_owned(),
        name: String::new(),
        description: String::new(),
        attributes: vec![
            AttributeDef {
                case_exact: true,
                returned: Returned::Always,
                uniqueness: Uniqueness::Server,
                ..read_only(string("id"))
            },
            AttributeDef {
                case_exact: true,
                ..string("externalId")
            },
            read_only(complex(
                "meta",
                vec![
                    AttributeDef {
                        case_exact: true,
                        ..read_only(string("resourceType"))
                    },
                    read_only(attr("created", AttributeType::DateTime)),
                    read_only(attr("lastModified", AttributeType::DateTime)),
                    AttributeDef {
                        case_exact: true,
                        ..read_only(attr("location", AttributeType::Reference))
                    },
                    AttributeDef {
                        case_exact: true,
                        ..read_only(string("version"))
                    },
                ],
            )),
        ],
    }
}
