// Command fetchspec makes sure the official OpenAPI document is in the cache
// (fetching it with npm if needed) and prints its path.
package main

import (
	"fmt"
	"os"

	"integrations/internal/spectest"
)

func main() {
	path, err := spectest.Path()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetchspec:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
