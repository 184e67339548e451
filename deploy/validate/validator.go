// Package validate checks the deployment files offline: the Kubernetes overlays (rendered by
// kustomize) against the Kubernetes API types and the operators' CRD schemas, the compose file
// with the Compose specification's loader, and the Dockerfiles' basic rules. See the tests.
package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// crdSchema is one served version of a CRD: its validator (types, enums, required, ranges)
// and its structural schema (to find fields the schema does not declare).
type crdSchema struct {
	validator  apiservervalidation.SchemaValidator
	structural *structuralschema.Structural
}

// Validator validates Kubernetes objects given as JSON.
type Validator struct {
	strict runtime.Decoder
	crds   map[schema.GroupVersionKind]crdSchema
}

// NewValidator loads the CRDs in dir (YAML CustomResourceDefinitions, apiextensions.k8s.io/v1).
func NewValidator(dir string) (*Validator, error) {
	v := &Validator{
		strict: serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
			serializerjson.SerializerOptions{Yaml: false, Pretty: false, Strict: true}),
		crds: map[schema.GroupVersionKind]crdSchema{},
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: not a CustomResourceDefinition", f)
		}
		for _, ver := range crd.Spec.Versions {
			if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("%s: version %s has no schema", f, ver.Name)
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, ver.Name, err)
			}
			validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, ver.Name, err)
			}
			structural, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: not structural: %w", f, ver.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}
			v.crds[gvk] = crdSchema{validator, structural}
		}
	}
	return v, nil
}

// Validate checks one object: a built-in kind is decoded strictly into its Go type from
// k8s.io/api (unknown or duplicate fields and wrong types are errors); a custom resource is
// validated against its CRD schema the way the API server does, and every field the schema
// does not declare (what the server would prune) is an error. Any other kind is an error.
func (v *Validator) Validate(obj []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(obj, &tm); err != nil {
		return err
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return err
	}
	gvk := gv.WithKind(tm.Kind)
	if scheme.Scheme.Recognizes(gvk) {
		_, _, err := v.strict.Decode(obj, &gvk, nil)
		return err
	}
	crd, ok := v.crds[gvk]
	if !ok {
		return fmt.Errorf("no schema for %s (neither a Kubernetes API type nor a vendored CRD)", gvk)
	}
	var u map[string]any
	if err := json.Unmarshal(obj, &u); err != nil {
		return err
	}
	var errs []string
	for _, e := range apiservervalidation.ValidateCustomResource(field.NewPath(""), u, crd.validator) {
		errs = append(errs, e.Error())
	}
	pruned := structuralpruning.PruneWithOptions(u, crd.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range pruned {
		errs = append(errs, "unknown field "+p)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
