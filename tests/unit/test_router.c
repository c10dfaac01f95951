/* Unit tests for the router (src/http/router.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <string.h>

#include "http/router.h"

static const int rooms, room, items, item, file, assets, root, health, upload;

static const struct route routes[] = {
    {METHOD_GET | METHOD_POST, "/api/rooms", &rooms},
    {METHOD_GET | METHOD_PATCH | METHOD_DELETE, "/api/rooms/:room", &room},
    {METHOD_GET | METHOD_POST, "/api/rooms/:room/items", &items},
    {METHOD_GET | METHOD_DELETE, "/api/rooms/:room/items/:item", &item},
    {METHOD_GET, "/api/rooms/:room/items/:item/file", &file},
    {METHOD_GET, "/assets/*", &assets},
    {METHOD_GET, "/", &root},
    {METHOD_GET, "/healthz", &health},
    {METHOD_PUT, "/healthz", &upload},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static enum route_result match(unsigned method, const char *path, struct route_match *m) {
  return router_match(routes, NROUTES, method, path, strlen(path), m);
}

static void assert_param(const struct route_match *m, const char *name, const char *want) {
  size_t len;
  const char *v = route_param(m, name, &len);
  assert_non_null(v);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(v, want, len);
}

static void test_router_matches_a_literal_path(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/healthz", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &health);
  assert_int_equal(m.param_count, 0);
}

static void test_router_fills_parameters_from_the_path(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/api/rooms/abc123/items/42", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &item);
  assert_int_equal(m.param_count, 2);
  assert_param(&m, "room", "abc123");
  assert_param(&m, "item", "42");
}

static void test_router_parameter_points_into_the_path(void **state) {
  const char *path = "/api/rooms/xyz";
  struct route_match m;
  assert_int_equal(match(METHOD_GET, path, &m), ROUTE_FOUND);
  size_t len;
  assert_ptr_equal(route_param(&m, "room", &len), path + strlen("/api/rooms/"));
}

static void test_router_unknown_parameter_is_null(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/api/rooms/r1", &m), ROUTE_FOUND);
  size_t len = 99;
  assert_null(route_param(&m, "item", &len));
  assert_int_equal(len, 0);
  assert_null(route_param(&m, "roo", &len));
}

static void test_router_chooses_the_route_with_the_right_depth(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/api/rooms/r1/items", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &items);
  assert_int_equal(match(METHOD_GET, "/api/rooms/r1/items/i1/file", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &file);
  assert_int_equal(m.param_count, 2);
}

static void test_router_trailing_star_matches_the_rest(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/assets/app.js", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &assets);
  assert_int_equal(match(METHOD_GET, "/assets/a/b/c.css", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &assets);
  assert_int_equal(match(METHOD_GET, "/assets/", &m), ROUTE_FOUND);
}

static void test_router_trailing_star_needs_its_prefix_whole(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/assets", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match(METHOD_GET, "/assetsx/a", &m), ROUTE_NOT_FOUND);
}

static void test_router_unknown_path_is_not_found(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/nope", &m), ROUTE_NOT_FOUND);
  assert_null(m.route);
  assert_int_equal(m.allowed, 0);
  assert_int_equal(match(METHOD_GET, "/healthz/", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match(METHOD_GET, "/healthzz", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match(METHOD_GET, "", &m), ROUTE_NOT_FOUND);
}

static void test_router_known_path_wrong_method_is_not_allowed(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_PUT, "/api/rooms/r1", &m), ROUTE_METHOD_NOT_ALLOWED);
  assert_null(m.route);
  assert_int_equal(m.allowed, METHOD_GET | METHOD_HEAD | METHOD_PATCH | METHOD_DELETE);
}

static void test_router_allowed_methods_join_every_route_of_the_path(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_DELETE, "/healthz", &m), ROUTE_METHOD_NOT_ALLOWED);
  assert_int_equal(m.allowed, METHOD_GET | METHOD_HEAD | METHOD_PUT);
}

static void test_router_second_route_of_a_path_matches_its_method(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_PUT, "/healthz", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &upload);
}

static void test_router_head_matches_get_routes(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_HEAD, "/api/rooms/r1/items/i1/file", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &file);
  assert_param(&m, "item", "i1");
}

static void test_router_head_does_not_match_routes_without_get(void **state) {
  static const struct route only_post[] = {{METHOD_POST, "/upload", &upload}};
  struct route_match m;
  assert_int_equal(router_match(only_post, 1, METHOD_HEAD, "/upload", 7, &m),
                   ROUTE_METHOD_NOT_ALLOWED);
  assert_int_equal(m.allowed, METHOD_POST);
}

static void test_router_empty_segment_never_matches_a_parameter(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/api/rooms/", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match(METHOD_GET, "/api/rooms//items", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match(METHOD_GET, "/api/rooms/r1/items/", &m), ROUTE_NOT_FOUND);
  assert_int_equal(match(METHOD_GET, "/api/rooms/r1/items//file", &m), ROUTE_NOT_FOUND);
}

static void test_router_parameter_stops_at_a_slash(void **state) {
  struct route_match m;
  /* "/api/rooms/a/b" is neither a room nor a room's sub-resource. */
  assert_int_equal(match(METHOD_GET, "/api/rooms/a/b", &m), ROUTE_NOT_FOUND);
}

static void test_router_root_matches_only_the_root(void **state) {
  struct route_match m;
  assert_int_equal(match(METHOD_GET, "/", &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &root);
  assert_int_equal(match(METHOD_GET, "//", &m), ROUTE_NOT_FOUND);
}

static void test_router_matches_only_the_given_length(void **state) {
  /* The path is not NUL-terminated: a query string may follow it. */
  const char *target = "/healthz?verbose=1";
  struct route_match m;
  assert_int_equal(router_match(routes, NROUTES, METHOD_GET, target, 8, &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &health);
}

static void test_router_first_matching_route_wins(void **state) {
  static const struct route ordered[] = {
      {METHOD_GET, "/r/new", &rooms},
      {METHOD_GET, "/r/:room", &room},
  };
  struct route_match m;
  assert_int_equal(router_match(ordered, 2, METHOD_GET, "/r/new", 6, &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &rooms);
  assert_int_equal(router_match(ordered, 2, METHOD_GET, "/r/old", 6, &m), ROUTE_FOUND);
  assert_ptr_equal(m.route->handler, &room);
}

static void test_router_too_many_parameters_never_match(void **state) {
  static const struct route deep[] = {{METHOD_GET, "/:a/:b/:c/:d/:e", &root}};
  struct route_match m;
  assert_int_equal(router_match(deep, 1, METHOD_GET, "/1/2/3/4/5", 10, &m), ROUTE_NOT_FOUND);
}

static void test_router_allow_header_lists_methods_in_order(void **state) {
  char out[96];
  size_t n =
      router_allow_header(METHOD_DELETE | METHOD_GET | METHOD_HEAD | METHOD_PATCH, out, sizeof out);
  assert_string_equal(out, "GET, HEAD, PATCH, DELETE");
  assert_int_equal(n, strlen(out));
}

static void test_router_allow_header_stops_at_the_buffer_end(void **state) {
  char out[12];
  size_t n = router_allow_header(METHOD_GET | METHOD_HEAD | METHOD_POST, out, sizeof out);
  assert_string_equal(out, "GET, HEAD");
  assert_int_equal(n, 9);
}

static void test_router_allow_header_of_nothing_is_empty(void **state) {
  char out[8] = "junk";
  assert_int_equal(router_allow_header(0, out, sizeof out), 0);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_router_matches_a_literal_path),
      cmocka_unit_test(test_router_fills_parameters_from_the_path),
      cmocka_unit_test(test_router_parameter_points_into_the_path),
      cmocka_unit_test(test_router_unknown_parameter_is_null),
      cmocka_unit_test(test_router_chooses_the_route_with_the_right_depth),
      cmocka_unit_test(test_router_trailing_star_matches_the_rest),
      cmocka_unit_test(test_router_trailing_star_needs_its_prefix_whole),
      cmocka_unit_test(test_router_unknown_path_is_not_found),
      cmocka_unit_test(test_router_known_path_wrong_method_is_not_allowed),
      cmocka_unit_test(test_router_allowed_methods_join_every_route_of_the_path),
      cmocka_unit_test(test_router_second_route_of_a_path_matches_its_method),
      cmocka_unit_test(test_router_head_matches_get_routes),
      cmocka_unit_test(test_router_head_does_not_match_routes_without_get),
      cmocka_unit_test(test_router_empty_segment_never_matches_a_parameter),
      cmocka_unit_test(test_router_parameter_stops_at_a_slash),
      cmocka_unit_test(test_router_root_matches_only_the_root),
      cmocka_unit_test(test_router_matches_only_the_given_length),
      cmocka_unit_test(test_router_first_matching_route_wins),
      cmocka_unit_test(test_router_too_many_parameters_never_match),
      cmocka_unit_test(test_router_allow_header_lists_methods_in_order),
      cmocka_unit_test(test_router_allow_header_stops_at_the_buffer_end),
      cmocka_unit_test(test_router_allow_header_of_nothing_is_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
