/* dyn_matmul_mil.h — the dynamic-weight matmul program (reference/ane-maderix.md §3.5) as MIL
 * text: input x [1, IC, 1, S+OC] holding activations at spatial [0, S) and W[ic, :] at [S, S+OC);
 * slice both, reshape/transpose the activations, matmul, transpose/reshape back to [1, OC, 1, S].
 * One text for the C tests and bench/matmul. Returns snprintf's count. */
#ifndef ANE_TEST_DYN_MATMUL_MIL_H
#define ANE_TEST_DYN_MATMUL_MIL_H

#include <stdio.h>

static inline int dyn_matmul_mil(char *buf, size_t cap, int IC, int OC, int S)
{
    return snprintf(buf, cap, "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, %d, 1, %d]> x) {\n"
        "tensor<int32, [4]> b0 = const()[name=string(\"b0\"), val=tensor<int32, [4]>([0,0,0,0])];\n"
        "tensor<int32, [4]> bw = const()[name=string(\"bw\"), val=tensor<int32, [4]>([0,0,0,%d])];\n"
        "tensor<int32, [4]> sa = const()[name=string(\"sa\"), val=tensor<int32, [4]>([1,%d,1,%d])];\n"
        "tensor<int32, [4]> sw = const()[name=string(\"sw\"), val=tensor<int32, [4]>([1,%d,1,%d])];\n"
        "tensor<fp16, [1,%d,1,%d]> a = slice_by_size(x=x,begin=b0,size=sa)[name=string(\"a\")];\n"
        "tensor<fp16, [1,%d,1,%d]> w = slice_by_size(x=x,begin=bw,size=sw)[name=string(\"w\")];\n"
        "tensor<int32, [4]> ra = const()[name=string(\"ra\"), val=tensor<int32, [4]>([1,1,%d,%d])];\n"
        "tensor<fp16, [1,1,%d,%d]> a2 = reshape(x=a,shape=ra)[name=string(\"a2\")];\n"
        "tensor<int32, [4]> pm = const()[name=string(\"pm\"), val=tensor<int32, [4]>([0,1,3,2])];\n"
        "tensor<fp16, [1,1,%d,%d]> at = transpose(x=a2,perm=pm)[name=string(\"at\")];\n"
        "tensor<int32, [4]> rw = const()[name=string(\"rw\"), val=tensor<int32, [4]>([1,1,%d,%d])];\n"
        "tensor<fp16, [1,1,%d,%d]> w2 = reshape(x=w,shape=rw)[name=string(\"w2\")];\n"
        "bool bF = const()[name=string(\"bF\"), val=bool(false)];\n"
        "tensor<fp16, [1,1,%d,%d]> m = matmul(transpose_x=bF,transpose_y=bF,x=at,y=w2)[name=string(\"m\")];\n"
        "tensor<fp16, [1,1,%d,%d]> mt = transpose(x=m,perm=pm)[name=string(\"mt\")];\n"
        "tensor<int32, [4]> ry = const()[name=string(\"ry\"), val=tensor<int32, [4]>([1,%d,1,%d])];\n"
        "tensor<fp16, [1,%d,1,%d]> y = reshape(x=mt,shape=ry)[name=string(\"y\")];\n"
        "    } -> (y);\n}\n",
        IC, S + OC, S, IC, S, IC, OC, IC, S, IC, OC, IC, S, IC, S, S, IC, IC, OC, IC, OC, S, OC, OC, S,
        OC, S, OC, S);
}

#endif
