use serde_json::json;

use super::deps::{effective, plan_between};
use super::view::{group_json, root_json, GroupEmbed};
use super::*;

fn app(id: &str, instances: u32, deps: &[&str]) -> AppDefinition {
    let mut a = AppDefinition::with_defaults(PathId::parse(id));
    a.cmd = Some("sleep 100".into());
    a.instances = instances;
    a.dependencies = deps.iter().map(|d| PathId::parse(d)).collect();
    a.version = "2026-01-01T00:00:00.000Z".into();
    a
}

fn group(id: &str, deps: &[&str]) -> GroupRecord {
    GroupRecord {
        id: PathId::parse(id),
        dependencies: deps.iter().map(|d| PathId::parse(d)).collect(),
        version: "2026-01-02T00:00:00.000Z".into(),
        enforce_role: None,
    }
}

fn update(body: Value) -> GroupUpdate {
    GroupUpdate::from_value(body).unwrap()
}

fn ids(tree: &Tree) -> Vec<String> {
    tree.apps.keys().map(|a| a.to_string()).collect()
}

fn paths(violations: &[Violation]) -> Vec<&str> {
    violations.iter().map(|v| v.path.as_str()).collect()
}

#[test]
fn groups_are_stored_ones_and_ancestors_of_apps() {
    let tree = Tree::new([app("/prod/web/fe", 1, &[])], [group("/empty", &[])]);
    let groups: Vec<String> = tree.group_ids().iter().map(|g| g.to_string()).collect();
    assert_eq!(groups, ["/", "/empty", "/prod", "/prod/web"]);
    assert!(tree.has_group(&PathId::parse("/prod")));
    assert!(
        !tree.has_group(&PathId::parse("/prod/web/fe")),
        "an app, not a group"
    );
    assert!(!tree.has_group(&PathId::parse("/nope")));
}

#[test]
fn an_update_replaces_given_children_and_keeps_absent_ones() {
    let tree = Tree::new(
        [
            app("/g/a", 1, &[]),
            app("/g/b", 1, &[]),
            app("/g/sub/c", 1, &[]),
            app("/other", 1, &[]),
        ],
        [],
    );
    let g = PathId::parse("/g");
    // apps given: /g/b goes, /g/new comes; the subgroup is kept (groups absent).
    let (t, applied) = tree
        .apply(
            &g,
            &update(json!({"apps": [{"id": "a", "cmd": "x"}, {"id": "/g/new", "cmd": "y"}]})),
            "v2",
        )
        .unwrap();
    assert_eq!(ids(&t), ["/g/a", "/g/new", "/g/sub/c", "/other"]);
    assert_eq!(applied.paths[&PathId::parse("/g/new")], "/apps(1)");
    assert_eq!(applied.given[&PathId::parse("/g/a")]["id"], "/g/a");
    // groups given: only those stay; nested apps are set in them.
    let (t, _) = tree
        .apply(
            &g,
            &update(json!({"groups": [{"id": "db", "apps": [{"id": "pg", "cmd": "pg"}]}]})),
            "v2",
        )
        .unwrap();
    assert_eq!(ids(&t), ["/g/a", "/g/b", "/g/db/pg", "/other"]);
    assert_eq!(t.groups[&PathId::parse("/g/db")].version, "v2");
}

#[test]
fn body_errors_are_all_reported_with_their_paths() {
    let tree = Tree::default();
    let err = tree
        .apply(
            &PathId::parse("/g"),
            &update(json!({
                "apps": [{"cmd": "no id"}, {"id": "x", "instances": "many"}],
                "groups": [{"id": "/elsewhere/sub"}, {"id": "Bad_Id"}]
            })),
            "v",
        )
        .unwrap_err();
    assert_eq!(
        paths(&err),
        [
            "/apps(0)/id",
            "/apps(1)/instances",
            "/groups(0)/id",
            "/groups(1)/id"
        ]
    );
}

#[test]
fn scale_by_rounds_up_every_app_below() {
    let tree = Tree::new(
        [
            app("/g/a", 3, &[]),
            app("/g/s/b", 1, &[]),
            app("/h", 2, &[]),
        ],
        [],
    );
    let t = tree.scaled(&PathId::parse("/g"), 1.5);
    let counts: Vec<u32> = t.apps.values().map(|a| a.instances).collect();
    assert_eq!(counts, [5, 2, 2]);
}

#[test]
fn app_and_group_ids_clash() {
    let tree = Tree::new([app("/a", 1, &[]), app("/a/b", 1, &[])], [group("/g", &[])]);
    let mut tree2 = tree.clone();
    tree2.apps.insert(PathId::parse("/g"), app("/g", 1, &[]));
    let found = id_clashes(
        &tree2,
        &BTreeMap::from([(PathId::parse("/g"), "/apps(0)".into())]),
    );
    assert_eq!(paths(&found), ["/a/id", "/apps(0)/id"]);
}

#[test]
fn group_dependencies_become_app_edges() {
    let tree = Tree::new(
        [
            app("/db/pg", 1, &[]),
            app("/db/redis", 1, &[]),
            app("/prod/web", 1, &[]),
            app("/prod/api", 1, &["/db/pg"]),
        ],
        [group("/prod", &["/db"])],
    );
    let graph = effective(&tree, &BTreeMap::new(), true).unwrap();
    let web: Vec<String> = graph
        .deps_of(&PathId::parse("/prod/web"))
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(web, ["/db/pg", "/db/redis"]);
    assert!(graph.deps_of(&PathId::parse("/db/pg")).is_empty());
    let steps = plan_between(&Tree::default(), &tree).unwrap();
    let names: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            s.iter()
                .map(|a| format!("{} {}", a.kind.name(), a.app))
                .collect()
        })
        .collect();
    assert_eq!(
        names[1],
        ["ScaleApplication /db/pg", "ScaleApplication /db/redis"]
    );
    assert_eq!(
        names[2],
        ["ScaleApplication /prod/api", "ScaleApplication /prod/web"]
    );
}

#[test]
fn unknown_dependencies_and_every_app_on_a_cycle_are_refused() {
    let tree = Tree::new(
        [
            app("/a", 1, &["/b"]),
            app("/b", 1, &["/c"]),
            app("/c", 1, &["/a"]),
            app("/d", 1, &["/a"]),
            app("/e", 1, &["/nope"]),
        ],
        [group("/g", &["/missing"])],
    );
    let paths_in_body = BTreeMap::from([(PathId::parse("/e"), "/apps(4)".to_string())]);
    let err = effective(&tree, &paths_in_body, true).unwrap_err();
    assert_eq!(
        paths(&err),
        [
            "/apps(4)/dependencies(0)",
            "/g/dependencies(0)",
            "/a/dependencies",
            "/b/dependencies",
            "/c/dependencies"
        ],
        "/d only depends on the cycle"
    );
    assert!(effective(&tree, &BTreeMap::new(), false).is_ok(), "lenient");
}

#[test]
fn group_json_is_marathons_shape() {
    let tree = Tree::new([app("/prod/web", 2, &[])], [group("/prod", &["/db"])]);
    let plain = |a: &AppDefinition| json!({"id": a.id.to_string()});
    let root = group_json(&tree, &PathId::root(), GroupEmbed::default(), &plain).unwrap();
    assert_eq!(
        root,
        json!({
            "id": "/", "apps": [], "pods": [], "dependencies": [],
            "version": "2026-01-02T00:00:00.000Z",
            "groups": [{
                "id": "/prod", "apps": [{"id": "/prod/web"}], "groups": [], "pods": [],
                "dependencies": ["/db"], "version": "2026-01-02T00:00:00.000Z"
            }]
        })
    );
    let only_groups = GroupEmbed::parse(["group.groups"]);
    let g = group_json(&tree, &PathId::parse("/prod"), only_groups, &plain).unwrap();
    assert!(g.get("apps").is_none() && g.get("groups").is_some());
    assert_eq!(root_json(&Tree::default()), json!({"id": "/"}));
    assert!(group_json(
        &tree,
        &PathId::parse("/nope"),
        GroupEmbed::default(),
        &plain
    )
    .is_none());
}
