package everything

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// URIs of the fixed resources.
const (
	staticTextURI   = "test://static-text"
	staticBinaryURI = "test://static-binary"
	watchedURI      = "test://watched-resource"
)

// The resource template test://template/{id}/data, as a prefix and a
// suffix around the id.
const (
	templateURI    = "test://template/{id}/data"
	templatePrefix = "test://template/"
	templateSuffix = "/data"
)

// staticResourceURIs lists the fixed resources, which may be subscribed to.
func staticResourceURIs() []string {
	return []string{staticTextURI, staticBinaryURI, watchedURI}
}

// addResources registers the fixed resources and the template. Resources
// are not scope-gated: mcpserver checks scopes per tool; every
// authenticated caller may read them.
func addResources(s *mcp.Server) {
	s.AddResource(&mcp.Resource{
		URI: staticTextURI, Name: "static-text", MIMEType: "text/plain",
		Description: "A fixed text resource.",
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return contents(&mcp.ResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: "This is the content of the static text resource."}), nil
	})
	s.AddResource(&mcp.Resource{
		URI: staticBinaryURI, Name: "static-binary", MIMEType: pngType,
		Description: "A fixed binary resource: a 1x1 PNG image.",
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return contents(&mcp.ResourceContents{URI: req.Params.URI, MIMEType: pngType, Blob: samplePNG()}), nil
	})
	s.AddResource(&mcp.Resource{
		URI: watchedURI, Name: "watched-resource", MIMEType: "text/plain",
		Description: "A resource clients may subscribe to.",
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return contents(&mcp.ResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: "Watched resource content"}), nil
	})
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: templateURI, Name: "template", MIMEType: "application/json",
		Description: "A JSON document for any id.",
	}, readTemplate)
}

func contents(c *mcp.ResourceContents) *mcp.ReadResourceResult {
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{c}}
}

// readTemplate reads test://template/{id}/data.
func readTemplate(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id, ok := strings.CutPrefix(uri, templatePrefix)
	if ok {
		id, ok = strings.CutSuffix(id, templateSuffix)
	}
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	doc, err := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
	if err != nil {
		return nil, err
	}
	return contents(&mcp.ResourceContents{URI: uri, MIMEType: "application/json", Text: string(doc)}), nil
}
