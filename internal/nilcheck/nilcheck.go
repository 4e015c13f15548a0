// Package nilcheck tells a missing dependency from a present one, typed
// nils included.
package nilcheck

import "reflect"

// IsNil reports whether v is nil or an interface holding a nil pointer,
// map, slice, func or channel: a typed nil, such as the *JWTVerifier of a
// constructor whose error was ignored, passes a plain "v == nil" check
// and fails (or panics) later, on every request.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
